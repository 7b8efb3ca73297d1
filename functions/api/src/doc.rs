//! Schemas of the OpenAPI document for values the handlers check themselves rather than by
//! their Rust type: each is a component, stated once, with the constraints the check applies.

use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::{PartialSchema, ToSchema};

use herald::domain::{DOMAIN_PATTERN, EMAIL_LOCAL_PATTERN, PHONE_PATTERN as PHONE, email_pattern};

/// A pattern that a string matches when it has a character other than white space, as Rust's
/// `str::trim` knows it (Unicode's White_Space property; ECMA-262's `\s` differs from it).
pub const NOT_BLANK: &str =
    r"[^\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]";

/// A name ([`crate::routes::check_name`]): 1 to 200 characters, not all white space.
pub struct Name;

impl PartialSchema for Name {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(
                "1 to 200 characters, not all white space (surrounding white space is removed).",
            ))
            .min_length(Some(1))
            .max_length(Some(200))
            .pattern(Some(NOT_BLANK))
            .examples([serde_json::json!("Spring gala")])
            .into()
    }
}

impl ToSchema for Name {}

/// A local date and time without an offset (chrono's `NaiveDateTime`), as events take them.
pub struct LocalDateTime;

impl PartialSchema for LocalDateTime {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(
                "A local date and time, without an offset: `YYYY-MM-DDTHH:MM:SS`, optionally \
                 with a fraction of a second (local to the event's `time_zone`); a real date \
                 (29 February only in a leap year).",
            ))
            .pattern(Some(concat!(
                "^[0-9]{4}-(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])",
                "|(?:0[1-9]|1[0-2])-29|(?:0[13-9]|1[0-2])-30|(?:0[13578]|1[02])-31)",
                "T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\\.[0-9]{1,9})?$"
            )))
            .examples([serde_json::json!("2027-05-01T18:00:00")])
            .into()
    }
}

impl ToSchema for LocalDateTime {}

/// Rules between fields that JSON Schema states (`anyOf`, `oneOf`, `if`/`then`) but the
/// derived schemas cannot: each is added to its component, next to the properties the derive
/// wrote. Rules JSON Schema cannot state are in the fields' descriptions.
pub fn refine(doc: &mut utoipa::openapi::OpenApi) {
    let Some(components) = doc.components.as_mut() else {
        return;
    };
    // A tagged enum's variants refuse fields they do not name (`deny_unknown_fields`).
    if let Some(RefOr::T(Schema::OneOf(audience))) = components.schemas.get_mut("Audience") {
        for variant in &mut audience.items {
            if let RefOr::T(Schema::Object(o)) = variant {
                o.additional_properties = Some(Box::new(
                    utoipa::openapi::schema::AdditionalProperties::FreeForm(false),
                ));
            }
        }
    }
    for (name, keywords) in refinements() {
        let extensions = match components.schemas.get_mut(name) {
            Some(RefOr::T(Schema::Object(o))) => &mut o.extensions,
            Some(RefOr::T(Schema::OneOf(o))) => &mut o.extensions,
            _ => continue,
        };
        let extensions = extensions.get_or_insert_with(Default::default);
        if let serde_json::Value::Object(keywords) = keywords {
            extensions.extend(keywords);
        }
    }
}

/// (component, the keywords it gains).
fn refinements() -> Vec<(&'static str, serde_json::Value)> {
    use serde_json::json;
    let given =
        |field: &str| json!({"required": [field], "properties": {field: {"type": "string"}}});
    let customise = |field: &[&str], value: serde_json::Value| {
        json!({
            "if": {
                "required": ["mode", "field"],
                "properties": {"mode": {"const": "customise"}, "field": {"enum": field}},
            },
            "then": {"properties": {"value": value}},
        })
    };
    let https = json!({"maxLength": 2048, "pattern": format!("^https://{}*$", not_space())});
    let direction = |fields: &[&str], direction: &str| {
        json!({
            "if": {"required": ["field"], "properties": {"field": {"enum": fields}}},
            "then": {"properties": {"direction": {"const": direction}}},
        })
    };
    let absent = |fields: &[&str]| json!({"not": {"anyOf": fields.iter().map(|f| json!({"required": [f]})).collect::<Vec<_>>()}});
    let text = |max: usize| json!({"type": ["string", "null"], "maxLength": max});
    let url = json!({"oneOf": [{"type": "null"}, {"$ref": "#/components/schemas/ProviderUrl"}]});
    let email = json!({"$ref": "#/components/schemas/EmailAddress"});
    let phone = json!({"oneOf": [{"type": "null"}, {"$ref": "#/components/schemas/PhoneE164"}]});
    let settings = |required: &[&str], properties: serde_json::Value| json!({"type": "object", "required": required, "properties": properties, "additionalProperties": false});
    let secret = json!({"type": "string", "minLength": 1, "maxLength": 2048, "pattern": NOT_BLANK});
    let credentials = |required: &[&str], optional: &[&str]| {
        let properties: serde_json::Map<String, serde_json::Value> = required
            .iter()
            .chain(optional)
            .map(|f| ((*f).to_owned(), secret.clone()))
            .collect();
        json!({"type": "object", "required": required, "properties": properties, "additionalProperties": false})
    };
    let provider = |kinds: &[&str], settings: serde_json::Value, credentials: serde_json::Value| {
        let mut required = vec!["kind", "settings"];
        if credentials["required"]
            .as_array()
            .is_some_and(|r| !r.is_empty())
        {
            required.push("credentials");
        }
        json!({
            "required": required,
            "properties": {"kind": {"enum": kinds}, "settings": settings, "credentials": credentials},
        })
    };
    let http_email = settings(
        &["from_address"],
        json!({"from_address": email, "from_name": text(256), "base_url": url}),
    );
    vec![
        (
            "ApiKeyIn",
            json!({"oneOf": [
                {
                    "required": ["role", "event_ids"],
                    "properties": {"role": {"const": "event_manager"}, "event_ids": {"minItems": 1}},
                },
                {"properties": {"role": {"enum": ["platform_admin", "tenant_admin"]}, "event_ids": {"maxItems": 0}}},
            ]}),
        ),
        (
            "ProviderIn",
            json!({"oneOf": [
                provider(
                    &["ses"],
                    settings(&["from_address"], json!({"from_address": email, "from_name": text(256), "configuration_set": text(256)})),
                    credentials(&[], &[]),
                ),
                provider(&["brevo", "sendgrid"], http_email, credentials(&["api_key"], &[])),
                provider(
                    &["sns"],
                    settings(&[], json!({
                        "sender_id": {
                            "type": ["string", "null"],
                            "maxLength": 11,
                            "pattern": "^[A-Za-z0-9]{0,10}[A-Za-z][A-Za-z0-9]{0,10}$",
                        },
                        "sms_type": {"enum": ["transactional", "promotional"]},
                        "origination_number": phone,
                    })),
                    credentials(&[], &[]),
                ),
                provider(
                    &["twilio"],
                    json!({"allOf": [
                        settings(&["account_sid"], json!({
                            "account_sid": {"type": "string", "pattern": "^AC[0-9A-Fa-f]{32}$"},
                            "from_number": phone,
                            "messaging_service_sid": text(256),
                            "base_url": url,
                        })),
                        {"anyOf": [given("from_number"), given("messaging_service_sid")]},
                    ]}),
                    credentials(&["auth_token"], &[]),
                ),
                provider(
                    &["whatsapp_cloud"],
                    settings(&["phone_number_id"], json!({
                        "phone_number_id": {"type": "string", "maxLength": 256, "pattern": "^[0-9]+$"},
                        "business_account_id": text(256),
                        "api_version": {"type": "string", "maxLength": 256, "pattern": "^v[0-9.]*[0-9][0-9.]*$"},
                        "base_url": url,
                    })),
                    credentials(&["access_token"], &["app_secret", "verify_token"]),
                ),
            ]}),
        ),
        (
            "TemplateIn",
            json!({"oneOf": [
                {
                    "properties": {
                        "channel": {"const": "email"},
                        "subject": {"type": "string", "pattern": NOT_BLANK},
                    },
                    "required": ["subject"],
                    "anyOf": [given("html"), given("text")],
                },
                {
                    "properties": {
                        "channel": {"enum": ["sms", "whatsapp"]},
                        "text": {"type": "string", "pattern": NOT_BLANK},
                        "subject": {"type": "null"},
                        "html": {"type": "null"},
                    },
                    "required": ["text"],
                },
            ]}),
        ),
        (
            "TestSendIn",
            json!({"oneOf": [
                {"properties": {"channel": {"const": "email"}, "to": {"pattern": email_pattern()}}},
                {"properties": {"channel": {"enum": ["sms", "whatsapp"]}, "to": {"pattern": PHONE}}},
            ]}),
        ),
        (
            "Audience",
            json!({
                "if": {"required": ["kind", "op"], "properties": {"kind": {"const": "filter"}, "op": {"enum": ["eq", "ne"]}}},
                "then": {"required": ["value"], "properties": {"value": {"not": {"type": "null"}}}},
            }),
        ),
        (
            "FieldMapping",
            json!({"allOf": [
                direction(&["last_message_sent_at", "last_opened_at", "last_clicked_at", "last_event", "last_event_rsvp"], "push"),
                direction(&["email", "phone"], "pull"),
            ]}),
        ),
        (
            "ConnectionIn",
            json!({
                "allOf": [{"properties": {"mappings": {"contains": {
                    "properties": {"field": {"enum": ["email", "phone"]}, "direction": {"const": "pull"}},
                }}}}],
                "oneOf": [
                    {
                        "properties": {"kind": {"const": "hubspot"}},
                        "allOf": [absent(&["my_domain_url", "client_id", "client_secret"])],
                    },
                    {
                        "properties": {"kind": {"const": "salesforce"}},
                        "allOf": [given("my_domain_url"), given("client_id"), absent(&["access_token", "base_url"])],
                    },
                ],
            }),
        ),
        (
            "MessageIn",
            json!({"oneOf": [
                given("guest_id"),
                {"required": ["recipient"], "properties": {"recipient": {"type": "object"}}},
            ]}),
        ),
        (
            "BrandChoice",
            json!({"allOf": [
                customise(&["primary_color", "secondary_color"], json!({"pattern": "^#[0-9A-Fa-f]{6}$"})),
                customise(&["logo_url"], https),
                customise(&["sender_name"], json!({"minLength": 1, "maxLength": 100, "pattern": NOT_BLANK})),
                customise(&["footer"], json!({"minLength": 1, "maxLength": 2000, "pattern": NOT_BLANK})),
            ]}),
        ),
        (
            "EmailSenderChoice",
            json!({
                "if": {"required": ["mode"], "properties": {"mode": {"const": "customise"}}},
                "then": given("from_address"),
            }),
        ),
        (
            "GuestIn",
            json!({"allOf": [
                {"anyOf": [given("email"), given("phone")]},
                {
                    "if": {"required": ["preferred_channel"], "properties": {"preferred_channel": {"const": "email"}}},
                    "then": given("email"),
                },
                {
                    "if": {"required": ["preferred_channel"], "properties": {"preferred_channel": {"enum": ["sms", "whatsapp"]}}},
                    "then": given("phone"),
                },
            ]}),
        ),
    ]
}

/// An email sender identity: a domain, or an address.
pub struct SenderIdentity;

impl PartialSchema for SenderIdentity {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(
                "A domain (`acme.example`: at least two labels of letters, digits and inner \
                 hyphens) or an email address (`events@acme.example`, as `EmailAddress`); at \
                 most 252 characters.",
            ))
            .max_length(Some(252))
            .pattern(Some(format!(
                "^(?:{EMAIL_LOCAL_PATTERN}@)?{DOMAIN_PATTERN}$"
            )))
            .examples([serde_json::json!("acme.example")])
            .into()
    }
}

impl ToSchema for SenderIdentity {}

/// A character class of everything but white space (see [`NOT_BLANK`]).
fn not_space() -> &'static str {
    NOT_BLANK
}

/// A brand field's name.
pub struct BrandField;

impl PartialSchema for BrandField {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some([
                "logo_url",
                "primary_color",
                "secondary_color",
                "sender_name",
                "footer",
            ]))
            .into()
    }
}

impl ToSchema for BrandField {}

/// A function's dead-letter queue, by the name of the queue it backs.
pub struct DeadLetterQueueName;

impl PartialSchema for DeadLetterQueueName {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some([
                "sender",
                "transactional",
                "tracker",
                "wizard",
                "crm-sync",
                "webhooks",
            ]))
            .into()
    }
}

impl ToSchema for DeadLetterQueueName {}

/// An email address or an E.164 phone number (a `+` tells them apart).
pub struct Address;

impl PartialSchema for Address {
    fn schema() -> RefOr<Schema> {
        // An address that starts with `+` is read as a phone number.
        let email = utoipa::openapi::schema::AllOfBuilder::new()
            .item(utoipa::openapi::Ref::from_schema_name("EmailAddress"))
            .item(ObjectBuilder::new().pattern(Some("^[^+]")));
        utoipa::openapi::schema::OneOfBuilder::new()
            .item(email)
            .item(utoipa::openapi::Ref::from_schema_name("PhoneE164"))
            .into()
    }
}

impl ToSchema for Address {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((
            "EmailAddress".into(),
            herald::domain::EmailAddress::schema(),
        ));
        schemas.push(("PhoneE164".into(), herald::domain::PhoneE164::schema()));
    }
}

/// Which kind of address.
pub struct AddressKind;

impl PartialSchema for AddressKind {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(["email", "phone"]))
            .into()
    }
}

impl ToSchema for AddressKind {}

/// A suppression entry's id: the kind and the SHA-256 of the address.
pub struct SuppressionKey;

impl PartialSchema for SuppressionKey {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(
                "`email:` or `phone:` and 64 lower-case hexadecimal digits.",
            ))
            .pattern(Some("^(email|phone):[0-9a-f]{64}$"))
            .into()
    }
}

impl ToSchema for SuppressionKey {}

/// A webhook endpoint's URL.
pub struct EndpointUrl;

impl PartialSchema for EndpointUrl {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(utoipa::openapi::SchemaFormat::Custom("uri".into())))
            .description(Some(
                "An https URL of at most 2,048 characters, without user name, password or \
                 fragment, whose host is a fully qualified domain name (not `localhost`, \
                 `*.internal` or `*.local`) that resolves to a public address, or a public IP \
                 address.",
            ))
            .max_length(Some(2048))
            .pattern(Some(concat!(
                r"^https://[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?",
                r"(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+",
                r"(:[0-9]{1,4})?(/[A-Za-z0-9._~!$&'()*+,;=:@/-]*)?(\?[A-Za-z0-9._~!$&'()*+,;=:@/?-]*)?$"
            )))
            .examples([serde_json::json!("https://hooks.acme.example/herald")])
            .into()
    }
}

impl ToSchema for EndpointUrl {}

/// The consent sources a caller may name (the others are Herald's own).
pub struct ApiConsentSource;

impl PartialSchema for ApiConsentSource {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(["api", "crm"]))
            .into()
    }
}

impl ToSchema for ApiConsentSource {}

/// The version of a consent wording.
pub struct WordingVersion;

impl PartialSchema for WordingVersion {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(
                "1 to 100 characters, no control characters, not all white space.",
            ))
            .min_length(Some(1))
            .max_length(Some(100))
            .pattern(Some(PRINTABLE_NOT_BLANK))
            .examples([serde_json::json!("consent-2026-11")])
            .into()
    }
}

impl ToSchema for WordingVersion {}

/// A pattern for text without control characters that is not all white space.
pub const PRINTABLE_NOT_BLANK: &str = concat!(
    r"^[^\u0000-\u001f\u007f-\u009f]*",
    r"[^\u0000-\u001f\u007f-\u009f \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]",
    r"[^\u0000-\u001f\u007f-\u009f]*$"
);

/// The languages of the preference page.
pub struct PageLanguage;

impl PartialSchema for PageLanguage {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(herald::consent::LANGUAGES.iter().copied()))
            .into()
    }
}

impl ToSchema for PageLanguage {}

/// The base URL of a provider's or a CRM's API.
pub struct ProviderUrl;

impl PartialSchema for ProviderUrl {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(utoipa::openapi::SchemaFormat::Custom("uri".into())))
            .description(Some(
                "An https URL (not to `localhost`, `127.0.0.1` or `[::1]`) of at most 2,048 \
                 characters.",
            ))
            .max_length(Some(2048))
            .pattern(Some(concat!(
                r"^https://[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?",
                r"(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+",
                r"(:[0-9]{1,4})?(/[A-Za-z0-9._~!$&'()*+,;=:@/-]*)?$"
            )))
            .examples([serde_json::json!("https://api.hubapi.com")])
            .into()
    }
}

impl ToSchema for ProviderUrl {}

/// The token of a preference link (the credential of a guest's preference routes).
pub struct LinkToken;

impl PartialSchema for LinkToken {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(
                "The token of a preference link: 98 characters of base64url. A tampered, \
                 foreign or expired one is a 403.",
            ))
            .pattern(Some("^[A-Za-z0-9_-]{98}$"))
            .into()
    }
}

impl ToSchema for LinkToken {}
