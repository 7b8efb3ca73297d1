//! The console's static files, embedded in the binary: its stylesheet and htmx (2.0.8,
//! vendored unmodified with its licence, Zero-Clause BSD).

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// The htmx file's name, as pages link it.
pub const HTMX: &str = "htmx-2.0.8.min.js";

static FILES: &[(&str, &str, &str)] = &[
    (
        "console.css",
        "text/css; charset=utf-8",
        include_str!("../assets/console.css"),
    ),
    (
        HTMX,
        "text/javascript; charset=utf-8",
        include_str!("../assets/htmx-2.0.8.min.js"),
    ),
    (
        "htmx-LICENSE.txt",
        "text/plain; charset=utf-8",
        include_str!("../assets/htmx-LICENSE.txt"),
    ),
];

pub async fn serve(Path(name): Path<String>) -> Response {
    let Some((_, media, body)) = FILES.iter().find(|(n, _, _)| *n == name) else {
        return crate::view::not_found().await;
    };
    let mut response = (StatusCode::OK, *body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(media));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// The size of every asset a page loads (bytes per page, in the benchmarks).
pub fn size_of(name: &str) -> Option<usize> {
    FILES
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, _, b)| b.len())
}
