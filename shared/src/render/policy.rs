//! The template language Herald accepts: minijinja with the constructs that could make a
//! message grow without bound taken out, checked token by token when a template is saved and
//! again when it is compiled for rendering.
//!
//! Fuel bounds the *steps* of a render, not its *bytes*: one step can double a string. So, on
//! top of fuel, recursion and output limits:
//! - no `*` or `**` (string and list repetition);
//! - no `namespace()` (the only way to carry a value from one loop iteration to the next), no
//!   recursive loops, no `lipsum()`;
//! - `{% set name = value %}` only, and without `~`, `+`, filters or calls in the value (no
//!   straight-line doubling); no block `set`, `filter`, `call`, `include`, `import`,
//!   `extends` or `block`;
//! - macros may not call macros (no recursion, no nesting of growth), and a macro call's
//!   arguments may not call macros;
//! - filters, tests and functions from an allow-list ([`FILTERS`], [`FUNCTIONS`]); `range` is
//!   capped at [`MAX_RANGE`] items and every rendered part at [`MAX_RENDERED_BYTES`].

use minijinja::machinery::{Token, tokenize};
use minijinja::syntax::SyntaxConfig;

use crate::template_syntax::SyntaxIssue;

/// The filters a template may use.
pub const FILTERS: &[&str] = &[
    "abs",
    "attr",
    "bool",
    "capitalize",
    "count",
    "d",
    "date",
    "datetime",
    "default",
    "dictsort",
    "e",
    "escape",
    "first",
    "float",
    "int",
    "items",
    "join",
    "last",
    "length",
    "lines",
    "list",
    "lower",
    "max",
    "min",
    "reject",
    "rejectattr",
    "replace",
    "reverse",
    "round",
    "safe",
    "select",
    "selectattr",
    "sort",
    "split",
    "string",
    "sum",
    "time",
    "title",
    "tojson",
    "trim",
    "truncate",
    "unique",
    "upper",
    "urlencode",
    "wordcount",
    "map",
    "batch",
    "slice",
];

/// The functions a template may call (besides its own macros).
pub const FUNCTIONS: &[&str] = &["range", "dict", "cycler", "joiner"];

/// `range()` yields at most this many numbers.
pub const MAX_RANGE: u32 = 1_000;

/// The largest rendered part (subject, HTML or text).
pub const MAX_RENDERED_BYTES: usize = 1024 * 1024;

const FORBIDDEN_NAMES: &[(&str, &str)] = &[
    ("namespace", "namespace() is not supported"),
    ("lipsum", "lipsum() is not supported"),
    ("recursive", "recursive loops are not supported"),
];

const FORBIDDEN_STATEMENTS: &[&str] = &[
    "filter", "call", "include", "import", "from", "extends", "block",
];

fn issue(field: &str, source: &str, offset: usize, message: impl Into<String>) -> SyntaxIssue {
    let before = &source[..offset.min(source.len())];
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    SyntaxIssue {
        field: field.to_owned(),
        message: message.into(),
        line: before.matches('\n').count() + 1,
        column: Some(before[line_start..].chars().count() + 1),
    }
}

/// Checks `source` (one part, named `field`) against Herald's template policy.
pub fn lint(field: &str, source: &str) -> Result<(), SyntaxIssue> {
    let tokens: Vec<(Token<'_>, usize)> = tokenize(source, false, SyntaxConfig::default())
        .map(|t| t.map(|(token, span)| (token, span.start_offset as usize)))
        .collect::<Result<_, _>>()
        // A syntax error is reported by the compiler with a better message.
        .unwrap_or_default();
    // Macro names first: a macro may be called before it is defined.
    let mut macros: Vec<&str> = Vec::new();
    for w in tokens.windows(3) {
        if let (Token::BlockStart, Token::Ident("macro"), Token::Ident(name)) =
            (&w[0].0, &w[1].0, &w[2].0)
        {
            macros.push(name);
        }
    }
    let bad = |offset: usize, message: &str| Err(issue(field, source, offset, message));
    let mut in_macro = false;
    // The current statement's keyword, while inside `{% ... %}`.
    let mut statement: Option<&str> = None;
    let mut statement_start = true;
    // Parenthesis depth of each macro call in progress.
    let mut macro_calls: Vec<usize> = Vec::new();
    let mut depth = 0usize;
    let mut previous: Option<&Token<'_>> = None;
    for (i, (token, offset)) in tokens.iter().enumerate() {
        let offset = *offset;
        let next = tokens.get(i + 1).map(|t| &t.0);
        match token {
            Token::BlockStart => {
                statement = None;
                statement_start = true;
            }
            Token::BlockEnd => {
                statement = None;
            }
            Token::Mul | Token::Pow => {
                return bad(offset, "the * and ** operators are not supported");
            }
            Token::ParenOpen => depth += 1,
            Token::ParenClose => {
                if macro_calls.last() == Some(&depth) {
                    macro_calls.pop();
                }
                depth = depth.saturating_sub(1);
            }
            Token::Ident(name) if statement_start => {
                statement_start = false;
                statement = Some(name);
                match *name {
                    "macro" => in_macro = true,
                    "endmacro" => in_macro = false,
                    "set" => {
                        // `{% set x %}` (block form) ends right after the name.
                        if matches!(tokens.get(i + 2).map(|t| &t.0), Some(Token::BlockEnd)) {
                            return bad(
                                offset,
                                "block {% set %} is not supported; use {% set name = value %}",
                            );
                        }
                    }
                    n if FORBIDDEN_STATEMENTS.contains(&n) => {
                        return bad(offset, &format!("{{% {n} %}} is not supported"));
                    }
                    _ => {}
                }
            }
            Token::Ident(name) => {
                if let Some((_, message)) = FORBIDDEN_NAMES.iter().find(|(n, _)| n == name) {
                    return bad(offset, message);
                }
                let after_dot = matches!(previous, Some(Token::Dot));
                let is_macro = !after_dot && macros.contains(name);
                if is_macro && statement != Some("macro") {
                    if in_macro {
                        return bad(offset, "a macro may not call a macro");
                    }
                    if !macro_calls.is_empty() {
                        return bad(offset, "a macro call's arguments may not call a macro");
                    }
                    if statement == Some("set") {
                        return bad(offset, "{% set %} may not call a macro");
                    }
                    if matches!(next, Some(Token::ParenOpen)) {
                        macro_calls.push(depth + 1);
                    }
                }
                if matches!(previous, Some(Token::Pipe)) {
                    if statement == Some("set") {
                        return bad(offset, "{% set %} values may not use filters");
                    }
                    if !FILTERS.contains(name) {
                        return bad(offset, &format!("the filter '{name}' is not supported"));
                    }
                } else if matches!(next, Some(Token::ParenOpen))
                    && !after_dot
                    && !is_macro
                    && statement != Some("macro")
                    && !FUNCTIONS.contains(name)
                {
                    return bad(offset, &format!("the function '{name}' is not supported"));
                }
                if statement == Some("set")
                    && FUNCTIONS.contains(name)
                    && matches!(next, Some(Token::ParenOpen))
                {
                    return bad(offset, "{% set %} values may not call functions");
                }
            }
            Token::Tilde | Token::Plus if statement == Some("set") => {
                return bad(offset, "{% set %} values may not use ~ or +");
            }
            _ => {}
        }
        if !matches!(token, Token::BlockStart) {
            statement_start = false;
        }
        previous = Some(token);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rejected(source: &str) -> String {
        lint("html", source).expect_err(source).message
    }

    #[test]
    fn ordinary_templates_pass() {
        for ok in [
            "Hello {{ guest.first_name | title }}, {{ event.starts_at | date('long') }}",
            "{% for item in event.schedule %}{{ loop.index }}. {{ item.title }}{% endfor %}",
            "{% if guest.tags | length > 0 %}{{ guest.tags | join(', ') }}{% endif %}",
            "{% set cta = links.rsvp %}<a href=\"{{ cta }}\">RSVP</a>",
            "{% macro button(url, label) %}<a href=\"{{ url }}\">{{ label }}</a>{% endmacro %}{{ button(links.rsvp, 'Reply') }}",
            "{% for i in range(3) %}{{ i }}{% endfor %}",
            "{{ 10 / 2 }} {{ 7 // 2 }} {{ 3 - 1 }} {{ 'a' ~ 'b' }}",
        ] {
            assert_eq!(lint("html", ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn what_could_grow_without_bound_is_refused_with_its_place() {
        let cases = [
            ("{{ 'x' * 1000000000 }}", "* and **"),
            ("{{ 2 ** 64 }}", "* and **"),
            ("{% set ns = namespace(s='x') %}", "namespace"),
            ("{% set a = b ~ b %}", "~ or +"),
            ("{% set a = b | replace('x', 'xx') %}", "filters"),
            ("{% set a %}{{ b }}{{ b }}{% endset %}", "block {% set %}"),
            (
                "{% macro m(s) %}{{ m(s ~ s) }}{% endmacro %}",
                "may not call a macro",
            ),
            (
                "{% macro m(s) %}{{ s }}{{ s }}{% endmacro %}{{ m(m(x)) }}",
                "arguments",
            ),
            ("{{ x | indent(1000000) }}", "filter 'indent'"),
            ("{{ lipsum(100) }}", "lipsum"),
            (
                "{% for x in y recursive %}{{ loop(x) }}{% endfor %}",
                "recursive",
            ),
            ("{% filter upper %}x{% endfilter %}", "{% filter %}"),
            ("{% include 'other' %}", "{% include %}"),
        ];
        for (source, expected) in cases {
            let message = rejected(source);
            assert!(message.contains(expected), "{source}: {message}");
        }
        let at = lint("text", "line one\n  {{ 'x' * 3 }}").expect_err("refused");
        assert_eq!((at.line, at.column), (2, Some(10)));
    }
}
