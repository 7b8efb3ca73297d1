//! Embeds the page templates and translations (`src/pages/templates/**`,
//! `src/pages/locales/{lang}/*.ftl`) in the library: writes `$OUT_DIR/pages_files.rs`, a list
//! of `include_str!`s of every file found, so a new template or a new language folder needs no
//! code change, and nothing is read from disk at run time.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::{env, fs};

fn files(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files(&path, ext, out);
        } else if path.extension().is_some_and(|e| e == ext) {
            out.push(path);
        }
    }
}

/// `name` relative to `base`, with `/` between folders whatever the platform.
fn relative(path: &Path, base: &Path) -> String {
    let rel = path.strip_prefix(base).unwrap_or(path);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

fn main() {
    let root = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into()));
    let pages = root.join("src").join("pages");
    let templates_dir = pages.join("templates");
    let locales_dir = pages.join("locales");
    println!("cargo:rerun-if-changed=src/pages/templates");
    println!("cargo:rerun-if-changed=src/pages/locales");

    let mut code = String::new();
    let mut templates = Vec::new();
    files(&templates_dir, "html", &mut templates);
    templates.sort();
    code.push_str("/// Every template: (name relative to `templates/`, source).\n");
    code.push_str("pub(crate) static TEMPLATES: &[(&str, &str)] = &[\n");
    for path in &templates {
        let _ = writeln!(
            code,
            "    ({:?}, include_str!({:?})),",
            relative(path, &templates_dir),
            path.display().to_string()
        );
    }
    code.push_str("];\n\n");

    let mut languages: Vec<PathBuf> = fs::read_dir(&locales_dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.is_dir())
                .collect()
        })
        .unwrap_or_default();
    languages.sort();
    code.push_str("/// Every language folder: (language, [(file name, Fluent source)]).\n");
    code.push_str("pub(crate) static LOCALES: &[(&str, &[(&str, &str)])] = &[\n");
    for dir in &languages {
        let mut ftl = Vec::new();
        files(dir, "ftl", &mut ftl);
        ftl.sort();
        let _ = writeln!(code, "    ({:?}, &[", relative(dir, &locales_dir));
        for path in &ftl {
            let _ = writeln!(
                code,
                "        ({:?}, include_str!({:?})),",
                relative(path, dir),
                path.display().to_string()
            );
        }
        code.push_str("    ]),\n");
    }
    code.push_str("];\n");

    let out = PathBuf::from(env::var("OUT_DIR").unwrap_or_else(|_| ".".into()));
    if let Err(e) = fs::write(out.join("pages_files.rs"), code) {
        panic!("writing pages_files.rs: {e}");
    }
}
