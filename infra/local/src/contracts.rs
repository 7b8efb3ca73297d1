//! The HTTP providers' request contracts, and a checker of requests against them.
//!
//! `infra/local/contracts/<provider>/<operation>.json` holds one JSON Schema (2020-12) per
//! operation Herald calls, written for Herald from the provider's published OpenAPI document
//! (or, for Salesforce, its REST API Developer Guide): each names its source and what it took
//! from it in `$comment`. The schema describes the request body; its `x-request` annotation
//! describes the rest of the request:
//!
//! - `method` and `path` (a template: `{name}` stands for one path segment, or part of one);
//! - `path_parameters`, `query`, `headers`: JSON Schemas of the path parameters, of the query
//!   string's parameters and of the headers (names in lower case), each an object of strings;
//! - `auth`: `{"scheme": "bearer"}` (`Authorization: Bearer <token>`), `{"scheme": "basic",
//!   "username": <schema>}`, `{"scheme": "header", "name": <header>}` (an API key header) or
//!   `{"scheme": "none"}`;
//! - `content_type` and `body`: `json`, `form` (`application/x-www-form-urlencoded`, checked
//!   as an object of strings) or `none` (the request has no body).
//!
//! The files are compiled in: nothing is read or fetched at run time. Tests check every
//! provider call against them (`functions/api/tests/common`, through wiremock), and the local
//! CRM fakes refuse what they refuse, with the provider's documented error answer.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::LazyLock;

use axum::http::HeaderMap;
use base64::Engine as _;
use jsonschema::Validator;
use serde_json::{Map, Value, json};

/// A provider Herald calls over HTTP (AWS's are called through the SDK, whose requests follow
/// the services' published models).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Provider {
    Twilio,
    Sendgrid,
    Brevo,
    Whatsapp,
    Hubspot,
    Salesforce,
}

impl Provider {
    pub const ALL: [Provider; 6] = [
        Provider::Twilio,
        Provider::Sendgrid,
        Provider::Brevo,
        Provider::Whatsapp,
        Provider::Hubspot,
        Provider::Salesforce,
    ];

    /// The provider's folder under `infra/local/contracts`.
    pub fn name(self) -> &'static str {
        match self {
            Provider::Twilio => "twilio",
            Provider::Sendgrid => "sendgrid",
            Provider::Brevo => "brevo",
            Provider::Whatsapp => "whatsapp",
            Provider::Hubspot => "hubspot",
            Provider::Salesforce => "salesforce",
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

macro_rules! contract_files {
    ($(($provider:ident, $operation:literal)),* $(,)?) => {
        /// Every contract file: (provider, operation, text).
        pub const FILES: &[(Provider, &str, &str)] = &[$(
            (
                Provider::$provider,
                $operation,
                include_str!(concat!(
                    "../contracts/",
                    contract_files!(@dir $provider),
                    "/",
                    $operation,
                    ".json"
                )),
            ),
        )*];
    };
    (@dir Twilio) => { "twilio" };
    (@dir Sendgrid) => { "sendgrid" };
    (@dir Brevo) => { "brevo" };
    (@dir Whatsapp) => { "whatsapp" };
    (@dir Hubspot) => { "hubspot" };
    (@dir Salesforce) => { "salesforce" };
}

contract_files![
    (Twilio, "messages-create"),
    (Twilio, "account-fetch"),
    (Sendgrid, "mail-send"),
    (Sendgrid, "scopes-list"),
    (Brevo, "smtp-email-send"),
    (Brevo, "account-get"),
    (Whatsapp, "messages-send"),
    (Whatsapp, "phone-number-get"),
    (Hubspot, "contacts-search"),
    (Hubspot, "contacts-batch-update"),
    (Hubspot, "account-details-get"),
    (Hubspot, "properties-list"),
    (Salesforce, "oauth-token"),
    (Salesforce, "limits-get"),
    (Salesforce, "query"),
    (Salesforce, "query-more"),
    (Salesforce, "composite-sobjects-update"),
];

/// What part of a request broke its contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// No operation of the provider has this method and path.
    Operation,
    Path,
    Auth,
    Headers,
    Query,
    Body,
}

/// One way a request breaks its contract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub provider: Provider,
    /// The operation's name (its file's), or the method and path when none matched.
    pub operation: String,
    pub part: Part,
    /// Where: a JSON pointer into the part (`/from/name`), or a header or parameter name.
    pub at: String,
    /// The JSON Schema keyword that failed (`required`, `type`, `maxItems`, ...), when one did.
    pub rule: String,
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let part = format!("{:?}", self.part).to_lowercase();
        write!(
            f,
            "{} {}: {part}{}: {}",
            self.provider, self.operation, self.at, self.message
        )
    }
}

/// A request, as the checker sees it.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub method: &'a str,
    /// The path, without the query string.
    pub path: &'a str,
    pub query: Option<&'a str>,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
}

enum Auth {
    None,
    Bearer,
    Basic { username: Option<Validator> },
    Header(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyKind {
    Json,
    Form,
    None,
}

/// One segment of a path template: a literal, or `prefix{name}suffix`.
enum Segment {
    Literal(String),
    Parameter {
        prefix: String,
        name: String,
        suffix: String,
    },
}

/// One operation's contract.
pub struct Contract {
    pub provider: Provider,
    pub operation: &'static str,
    method: String,
    path: Vec<Segment>,
    path_parameters: Option<Validator>,
    query: Option<Validator>,
    headers: Option<Validator>,
    auth: Auth,
    content_type: Option<String>,
    body: BodyKind,
    schema: Validator,
}

impl fmt::Debug for Contract {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Contract({} {})", self.provider, self.operation)
    }
}

fn compile(schema: &Value) -> Result<Validator, String> {
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .should_validate_formats(true)
        .build(schema)
        .map_err(|e| e.to_string())
}

impl Contract {
    fn load(provider: Provider, operation: &'static str, text: &str) -> Result<Self, String> {
        let document: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
        jsonschema::meta::validate(&document)
            .map_err(|e| format!("not a JSON Schema document: {e}"))?;
        let request = document.get("x-request").ok_or("no x-request annotation")?;
        let text_of = |name: &str| request.get(name).and_then(Value::as_str);
        let schema_of = |name: &str| request.get(name).map(compile).transpose();
        let auth = match request.pointer("/auth/scheme").and_then(Value::as_str) {
            Some("none") => Auth::None,
            Some("bearer") => Auth::Bearer,
            Some("basic") => Auth::Basic {
                username: request.pointer("/auth/username").map(compile).transpose()?,
            },
            Some("header") => Auth::Header(
                request
                    .pointer("/auth/name")
                    .and_then(Value::as_str)
                    .ok_or("auth header without a name")?
                    .to_ascii_lowercase(),
            ),
            other => return Err(format!("unknown auth scheme {other:?}")),
        };
        let body = match text_of("body") {
            Some("json") => BodyKind::Json,
            Some("form") => BodyKind::Form,
            Some("none") => BodyKind::None,
            other => return Err(format!("unknown body kind {other:?}")),
        };
        let path = text_of("path").ok_or("no path")?;
        Ok(Self {
            provider,
            operation,
            method: text_of("method").ok_or("no method")?.to_owned(),
            path: template(path)?,
            path_parameters: schema_of("path_parameters")?,
            query: schema_of("query")?,
            headers: schema_of("headers")?,
            auth,
            content_type: text_of("content_type").map(str::to_ascii_lowercase),
            body,
            schema: compile(&document)?,
        })
    }

    /// The path parameters, when the method and path are this operation's.
    fn parameters(&self, method: &str, path: &str) -> Option<Map<String, Value>> {
        if !self.method.eq_ignore_ascii_case(method) {
            return None;
        }
        let segments: Vec<&str> = path.split('/').collect();
        if segments.len() != self.path.len() {
            return None;
        }
        let mut parameters = Map::new();
        for (segment, template) in segments.iter().zip(&self.path) {
            match template {
                Segment::Literal(literal) if literal == segment => {}
                Segment::Literal(_) => return None,
                Segment::Parameter {
                    prefix,
                    name,
                    suffix,
                } => {
                    let value = segment
                        .strip_prefix(prefix.as_str())?
                        .strip_suffix(suffix.as_str())
                        .filter(|v| !v.is_empty())?;
                    parameters.insert(name.clone(), json!(value));
                }
            }
        }
        Some(parameters)
    }

    /// Whether a request with this method and path is for this operation.
    pub fn matches(&self, method: &str, path: &str) -> bool {
        self.parameters(method, path).is_some()
    }

    /// Everything in `request` that breaks this contract (nothing when it keeps to it).
    pub fn check(&self, request: &Request<'_>) -> Vec<Violation> {
        let Some(parameters) = self.parameters(request.method, request.path) else {
            return vec![self.violation(
                Part::Operation,
                "",
                format!("{} {} is not this operation", request.method, request.path),
            )];
        };
        let mut found = Vec::new();
        if let Some(schema) = &self.path_parameters {
            found.extend(self.errors(schema, &Value::Object(parameters), Part::Path));
        }
        found.extend(self.check_auth(request.headers));
        if let Some(schema) = &self.headers {
            found.extend(self.errors(schema, &header_object(request.headers), Part::Headers));
        }
        if let Some(schema) = &self.query {
            let query = form_object(request.query.unwrap_or_default().as_bytes());
            found.extend(self.errors(schema, &query, Part::Query));
        }
        found.extend(self.check_body(request));
        found
    }

    fn check_auth(&self, headers: &HeaderMap) -> Vec<Violation> {
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|v| !v.is_empty())
        };
        let authorization = header("authorization");
        let credentials = |scheme: &str| {
            authorization.and_then(|a| {
                let (given, rest) = a.split_once(' ')?;
                let rest = rest.trim();
                (given.eq_ignore_ascii_case(scheme)
                    && !rest.is_empty()
                    && !rest.contains(char::is_whitespace))
                .then_some(rest)
            })
        };
        let refuse = |at: &str, message: &str| vec![self.violation(Part::Auth, at, message)];
        match &self.auth {
            Auth::None => Vec::new(),
            Auth::Bearer => match credentials("Bearer") {
                Some(_) => Vec::new(),
                None => refuse("authorization", "expected `Authorization: Bearer <token>`"),
            },
            Auth::Header(name) => match header(name) {
                Some(_) => Vec::new(),
                None => refuse(name, "the API key header is missing or empty"),
            },
            Auth::Basic { username } => {
                let decoded = credentials("Basic")
                    .and_then(|c| base64::engine::general_purpose::STANDARD.decode(c).ok())
                    .and_then(|bytes| String::from_utf8(bytes).ok());
                let Some((user, _password)) = decoded
                    .as_deref()
                    .and_then(|d| d.split_once(':'))
                    .filter(|(u, p)| !u.is_empty() && !p.is_empty())
                else {
                    return refuse(
                        "authorization",
                        "expected `Authorization: Basic base64(username:password)`",
                    );
                };
                match username {
                    Some(schema) if !schema.is_valid(&json!(user)) => refuse(
                        "authorization",
                        "the Basic username is not one this provider issues",
                    ),
                    _ => Vec::new(),
                }
            }
        }
    }

    fn check_body(&self, request: &Request<'_>) -> Vec<Violation> {
        let media_type = request
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|v| v.trim().to_ascii_lowercase());
        let mut found = Vec::new();
        if let Some(expected) = &self.content_type
            && media_type.as_deref() != Some(expected.as_str())
        {
            found.push(self.violation(
                Part::Headers,
                "content-type",
                format!("expected {expected}, got {media_type:?}"),
            ));
        }
        let body = match self.body {
            BodyKind::None if request.body.is_empty() => return found,
            BodyKind::None => {
                found.push(self.violation(Part::Body, "", "this operation takes no body"));
                return found;
            }
            BodyKind::Form => form_object(request.body),
            BodyKind::Json => match serde_json::from_slice(request.body) {
                Ok(body) => body,
                Err(e) => {
                    found.push(self.violation(Part::Body, "", format!("not JSON: {e}")));
                    return found;
                }
            },
        };
        found.extend(self.errors(&self.schema, &body, Part::Body));
        found
    }

    fn errors(&self, schema: &Validator, instance: &Value, part: Part) -> Vec<Violation> {
        schema
            .iter_errors(instance)
            .take(20)
            .map(|e| {
                let mut violation =
                    self.violation(part, &e.instance_path().to_string(), e.to_string());
                let schema_path = e.schema_path().to_string();
                violation.rule = schema_path
                    .rsplit('/')
                    .next()
                    .unwrap_or_default()
                    .to_owned();
                violation
            })
            .collect()
    }

    fn violation(&self, part: Part, at: &str, message: impl Into<String>) -> Violation {
        Violation {
            provider: self.provider,
            operation: self.operation.to_owned(),
            part,
            at: at.to_owned(),
            rule: String::new(),
            message: message.into(),
        }
    }
}

fn template(path: &str) -> Result<Vec<Segment>, String> {
    path.split('/')
        .map(|segment| match segment.split_once('{') {
            None => Ok(Segment::Literal(segment.to_owned())),
            Some((prefix, rest)) => {
                let (name, suffix) = rest
                    .split_once('}')
                    .ok_or_else(|| format!("unclosed parameter in {path}"))?;
                Ok(Segment::Parameter {
                    prefix: prefix.to_owned(),
                    name: name.to_owned(),
                    suffix: suffix.to_owned(),
                })
            }
        })
        .collect()
}

/// A form or query string as an object of strings (a repeated name: a list of them).
fn form_object(bytes: &[u8]) -> Value {
    let mut fields: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in form_urlencoded::parse(bytes) {
        fields
            .entry(name.into_owned())
            .or_default()
            .push(value.into_owned());
    }
    let object = fields.into_iter().map(|(name, mut values)| {
        let value = match values.len() {
            1 => json!(values.remove(0)),
            _ => json!(values),
        };
        (name, value)
    });
    Value::Object(object.collect())
}

fn header_object(headers: &HeaderMap) -> Value {
    let object = headers.iter().map(|(name, value)| {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        (name.as_str().to_owned(), json!(value))
    });
    Value::Object(object.collect())
}

static CONTRACTS: LazyLock<Result<Vec<Contract>, String>> = LazyLock::new(|| {
    FILES
        .iter()
        .map(|(provider, operation, text)| {
            Contract::load(*provider, operation, text)
                .map_err(|e| format!("contract {provider}/{operation}.json: {e}"))
        })
        .collect()
});

/// Every contract, compiled once.
pub fn all() -> Result<&'static [Contract], String> {
    CONTRACTS.as_deref().map_err(Clone::clone)
}

/// The contract of one operation.
pub fn contract(provider: Provider, operation: &str) -> Result<&'static Contract, String> {
    all()?
        .iter()
        .find(|c| c.provider == provider && c.operation == operation)
        .ok_or_else(|| format!("no contract {provider}/{operation}"))
}

/// Finds the operation of `provider` that `request` is for and checks the request against it:
/// the operation when the request keeps to it, else every violation (one saying so when no
/// operation of the provider has the request's method and path).
pub fn check(
    provider: Provider,
    request: &Request<'_>,
) -> Result<&'static Contract, Vec<Violation>> {
    let contracts = all().map_err(|e| {
        vec![Violation {
            provider,
            operation: String::new(),
            part: Part::Operation,
            at: String::new(),
            rule: String::new(),
            message: e,
        }]
    })?;
    let Some(contract) = contracts
        .iter()
        .find(|c| c.provider == provider && c.matches(request.method, request.path))
    else {
        return Err(vec![Violation {
            provider,
            operation: format!("{} {}", request.method, request.path),
            part: Part::Operation,
            at: String::new(),
            rule: String::new(),
            message: format!("no {provider} operation has this method and path"),
        }]);
    };
    let violations = contract.check(request);
    if violations.is_empty() {
        Ok(contract)
    } else {
        Err(violations)
    }
}

/// The status and body `provider` answers a request its contract refuses with, in the shape
/// its documentation gives for errors: 404 for an unknown operation, 401 for missing or
/// malformed credentials, 400 for the rest.
pub fn refusal(provider: Provider, violations: &[Violation]) -> (u16, Value) {
    let status = if violations.iter().any(|v| v.part == Part::Operation) {
        404
    } else if violations.iter().any(|v| v.part == Part::Auth) {
        401
    } else {
        400
    };
    let message = violations
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ");
    let token_request = violations.iter().any(|v| v.operation == "oauth-token");
    let body = match provider {
        Provider::Twilio => json!({"status": status, "message": message,
            "more_info": "https://www.twilio.com/docs/errors"}),
        Provider::Sendgrid => {
            let errors: Vec<Value> = violations
                .iter()
                .map(|v| json!({"message": v.message, "field": v.at, "help": null}))
                .collect();
            json!({ "errors": errors })
        }
        Provider::Brevo => {
            let code = match status {
                401 => "unauthorized",
                404 => "document_not_found",
                _ if violations.iter().any(|v| v.rule == "required") => "missing_parameter",
                _ => "invalid_parameter",
            };
            json!({"code": code, "message": message})
        }
        Provider::Whatsapp => json!({"error": {"message": format!("(#100) {message}"),
            "type": "OAuthException", "code": if status == 401 { 190 } else { 100 },
            "fbtrace_id": ulid::Ulid::generate().to_string()}}),
        Provider::Hubspot => {
            let category = match status {
                401 => "INVALID_AUTHENTICATION",
                404 => "OBJECT_NOT_FOUND",
                _ => "VALIDATION_ERROR",
            };
            json!({"status": "error", "message": format!("Invalid input JSON: {message}"),
                "correlationId": ulid::Ulid::generate().to_string().to_lowercase(),
                "category": category})
        }
        Provider::Salesforce if token_request => {
            let error = if violations.iter().any(|v| v.at == "/grant_type") {
                "unsupported_grant_type"
            } else {
                "invalid_request"
            };
            json!({"error": error, "error_description": message})
        }
        Provider::Salesforce => {
            let code = match status {
                401 => "INVALID_SESSION_ID",
                404 => "NOT_FOUND",
                _ if violations.iter().any(|v| v.part == Part::Query) => "MALFORMED_QUERY",
                // sObject Collections' own code for a list over its 200 records.
                _ if violations
                    .iter()
                    .any(|v| v.at == "/records" && v.rule == "maxItems") =>
                {
                    "EXCEEDED_ID_LIMIT"
                }
                _ => "JSON_PARSER_ERROR",
            };
            json!([{"message": message, "errorCode": code}])
        }
    };
    (status, body)
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    fn post<'a>(path: &'a str, headers: &'a HeaderMap, body: &'a [u8]) -> Request<'a> {
        Request {
            method: "POST",
            path,
            query: None,
            headers,
            body,
        }
    }

    #[test]
    fn every_contract_compiles_and_names_its_source() {
        let contracts = all().unwrap();
        assert_eq!(contracts.len(), FILES.len());
        for (provider, operation, text) in FILES {
            let document: Value = serde_json::from_str(text).unwrap();
            let comment = document["$comment"].as_str().unwrap_or_default();
            assert!(
                comment.starts_with("Written for Herald from")
                    || comment.contains("written for Herald from"),
                "{provider}/{operation}: $comment names no source"
            );
            assert!(comment.contains("Taken from"), "{provider}/{operation}");
        }
        for provider in Provider::ALL {
            assert!(
                contracts.iter().any(|c| c.provider == provider),
                "{provider}"
            );
        }
    }

    #[test]
    fn a_null_optional_field_breaks_sendgrid_s_contract() {
        let h = headers(&[
            ("authorization", "Bearer SG.key"),
            ("content-type", "application/json"),
        ]);
        let good = json!({"personalizations": [{"to": [{"email": "zoe@example.com"}]}],
            "from": {"email": "events@acme.example"}, "subject": "Hi",
            "content": [{"type": "text/html", "value": "<p>Hi</p>"}]});
        let body = good.to_string();
        let request = post("/v3/mail/send", &h, body.as_bytes());
        assert_eq!(
            check(Provider::Sendgrid, &request).unwrap().operation,
            "mail-send"
        );
        let mut bad = good.clone();
        bad["from"]["name"] = Value::Null;
        let body = bad.to_string();
        let violations = check(
            Provider::Sendgrid,
            &post("/v3/mail/send", &h, body.as_bytes()),
        )
        .unwrap_err();
        assert_eq!(violations.len(), 1, "{violations:?}");
        assert_eq!(
            (violations[0].part, violations[0].at.as_str()),
            (Part::Body, "/from/name")
        );
        let (status, answer) = refusal(Provider::Sendgrid, &violations);
        assert_eq!(
            (status, answer["errors"][0]["field"].as_str()),
            (400, Some("/from/name"))
        );
        // HTML before text is refused too, and so is a reserved header.
        let mut bad = good;
        bad["content"] = json!([{"type": "text/html", "value": "<p>Hi</p>"},
            {"type": "text/plain", "value": "Hi"}]);
        bad["headers"] = json!({"Reply-To": "x@example.com"});
        let body = bad.to_string();
        let violations = check(
            Provider::Sendgrid,
            &post("/v3/mail/send", &h, body.as_bytes()),
        )
        .unwrap_err();
        assert_eq!(violations.len(), 2, "{violations:?}");
    }

    #[test]
    fn auth_content_type_and_path_are_checked() {
        let body = br#"{"sender": {"email": "e@acme.example"}, "to": [{"email": "z@example.com"}],
            "subject": "Hi", "htmlContent": "<p>Hi</p>"}"#;
        let h = headers(&[("content-type", "application/json")]);
        let violations = check(Provider::Brevo, &post("/v3/smtp/email", &h, body)).unwrap_err();
        assert_eq!(violations[0].part, Part::Auth);
        assert_eq!(refusal(Provider::Brevo, &violations).0, 401);
        let h = headers(&[("api-key", "xkeysib-1"), ("content-type", "text/plain")]);
        let violations = check(Provider::Brevo, &post("/v3/smtp/email", &h, body)).unwrap_err();
        assert_eq!(violations[0].at, "content-type");
        let h = headers(&[
            ("api-key", "xkeysib-1"),
            ("content-type", "application/json"),
        ]);
        let violations = check(Provider::Brevo, &post("/v3/smtp/emails", &h, body)).unwrap_err();
        assert_eq!(refusal(Provider::Brevo, &violations).0, 404);
        assert!(check(Provider::Brevo, &post("/v3/smtp/email", &h, body)).is_ok());
        let no_body =
            br#"{"sender": {"email": "e@acme.example"}, "to": [{"email": "z@example.com"}],
            "subject": "Hi"}"#;
        let violations = check(Provider::Brevo, &post("/v3/smtp/email", &h, no_body)).unwrap_err();
        assert_eq!(violations[0].part, Part::Body, "{violations:?}");
    }

    #[test]
    fn twilio_s_basic_auth_form_and_path_parameters_are_checked() {
        let sid = "AC0123456789abcdef0123456789abcdef";
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("{sid}:token"));
        let h = headers(&[
            ("authorization", &format!("Basic {basic}")),
            ("content-type", "application/x-www-form-urlencoded"),
        ]);
        let path = format!("/2010-04-01/Accounts/{sid}/Messages.json");
        let good = b"To=%2B447700900123&Body=Hello&From=%2B447700900999";
        assert!(check(Provider::Twilio, &post(&path, &h, good)).is_ok());
        let violations = check(
            Provider::Twilio,
            &post(&path, &h, b"To=%2B447700900123&Body=Hi"),
        )
        .unwrap_err();
        assert_eq!(violations[0].part, Part::Body, "no sender: {violations:?}");
        let other = "/2010-04-01/Accounts/XX0123456789abcdef0123456789abcdef/Messages.json";
        let violations = check(Provider::Twilio, &post(other, &h, good)).unwrap_err();
        assert_eq!(violations[0].part, Part::Path, "{violations:?}");
    }

    #[test]
    fn query_strings_and_headers_are_checked() {
        let h = headers(&[
            ("authorization", "Bearer 00Dxx!AQtoken"),
            ("sforce-query-options", "batchSize=2000"),
        ]);
        let request = |query: &'static str| Request {
            method: "GET",
            path: "/services/data/v60.0/query",
            query: Some(query),
            headers: &h,
            body: b"",
        };
        assert!(check(Provider::Salesforce, &request("q=SELECT+Id+FROM+Contact")).is_ok());
        let violations = check(Provider::Salesforce, &request("q=DELETE+Contact")).unwrap_err();
        assert_eq!(
            refusal(Provider::Salesforce, &violations).1[0]["errorCode"],
            "MALFORMED_QUERY"
        );
        let h = headers(&[
            ("authorization", "Bearer 00Dxx!AQtoken"),
            ("sforce-query-options", "batchSize=5000"),
        ]);
        let request = Request {
            method: "GET",
            path: "/services/data/v60.0/query",
            query: Some("q=SELECT+Id+FROM+Contact"),
            headers: &h,
            body: b"",
        };
        let violations = check(Provider::Salesforce, &request).unwrap_err();
        assert_eq!(violations[0].part, Part::Headers, "{violations:?}");
    }
}
