//! A browser without JavaScript for the console's tests: its Router in-process, cookies, the
//! last page's CSRF token, and multipart bodies.

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use herald_console::ConsoleState;
use herald_local::testing::TestStack;
use http_body_util::BodyExt as _;
use tower::ServiceExt as _;

/// A browser without JavaScript: the console's Router, its cookies, and the last page's CSRF
/// token.
pub struct Browser {
    router: Router,
    pub cookies: Vec<(String, String)>,
    pub csrf: String,
}

pub struct Page {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub html: String,
}

impl Page {
    pub fn location(&self) -> &str {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }
}

fn csrf_of(html: &str) -> Option<String> {
    let at = html.find("name=\"csrf\" value=\"")? + "name=\"csrf\" value=\"".len();
    Some(html[at..].split('"').next()?.to_owned())
}

impl Browser {
    pub fn new(stack: &TestStack, public_url: &str) -> Self {
        let state = ConsoleState::new(stack.state.clone(), Some(public_url));
        Self {
            router: herald_console::router(state),
            cookies: Vec::new(),
            csrf: String::new(),
        }
    }

    pub async fn send(&mut self, request: Request<Body>) -> Page {
        let response = match self.router.clone().oneshot(request).await {
            Ok(r) => r,
            Err(never) => match never {},
        };
        let status = response.status();
        let headers = response.headers().clone();
        for set in headers.get_all(header::SET_COOKIE) {
            let set = set.to_str().unwrap_or_default();
            let pair = set.split(';').next().unwrap_or_default();
            if let Some((name, value)) = pair.split_once('=') {
                self.cookies.retain(|(n, _)| n != name);
                if !value.is_empty() && !set.contains("Max-Age=0") {
                    self.cookies.push((name.to_owned(), value.to_owned()));
                }
            }
        }
        let bytes = response
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let html = String::from_utf8_lossy(&bytes).into_owned();
        if let Some(token) = csrf_of(&html) {
            self.csrf = token;
        }
        Page {
            status,
            headers,
            html,
        }
    }

    pub fn request(&self, method: Method, path: &str) -> axum::http::request::Builder {
        let cookie = self
            .cookies
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        Request::builder()
            .method(method)
            .uri(path)
            .header(header::COOKIE, cookie)
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let request = self
            .request(Method::GET, path)
            .body(Body::empty())
            .unwrap_or_default();
        self.send(request).await
    }

    /// Posts a form with the last page's CSRF token (unless `fields` has its own).
    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let mut form = form_urlencoded::Serializer::new(String::new());
        if !fields.iter().any(|(k, _)| *k == "csrf") {
            form.append_pair("csrf", &self.csrf);
        }
        for (k, v) in fields {
            form.append_pair(k, v);
        }
        let request = self
            .request(Method::POST, path)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(form.finish()))
            .unwrap_or_default();
        self.send(request).await
    }

    pub async fn sign_in(&mut self, key: &str) -> Page {
        let page = self.get("/console/sign-in").await;
        assert_eq!(page.status, StatusCode::OK);
        self.post(
            "/console/sign-in",
            &[("api_key", key), ("next", "/console")],
        )
        .await
    }
}

/// A multipart body of the import form.
pub fn multipart(fields: &[(&str, &str)]) -> (String, Vec<u8>) {
    let boundary = "----herald-test-boundary";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"").as_bytes(),
        );
        if *name == "file" {
            body.extend_from_slice(b"; filename=\"guests.csv\"\r\nContent-Type: text/csv");
        }
        body.extend_from_slice(format!("\r\n\r\n{value}\r\n").as_bytes());
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}
