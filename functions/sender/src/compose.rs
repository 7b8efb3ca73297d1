//! The pure, per-message work of a delivery job once a message is cleared to go (consent,
//! suppression and channel are decided by `herald::messages::decide`): render it from the
//! snapshot and build what goes to the provider. One `Composer` per job compiles each of the
//! job's templates once and reuses one render context, changing only the guest.
//! `benches/sender.rs` measures this path.

use std::collections::HashMap;

use herald::config::ComplianceBlock;
use herald::domain::{Channel, TemplateCategory};
use herald::messages::Recipient;
use herald::providers::send::{From, Outgoing};
use herald::render::{CompiledTemplate, RenderContext, RenderedMessage};
use herald::wizard::SnapshotContent;
use herald::wizard::snapshot::named;

pub struct Composer<'a> {
    category: TemplateCategory,
    templates: HashMap<Channel, Option<CompiledTemplate<'a>>>,
    compliance: &'a [ComplianceBlock],
    context: RenderContext,
    from: Option<From>,
    configuration_set: Option<String>,
    /// The event's RSVP form and default language, to label a guest's answers.
    rsvp_form: Option<(&'a herald::rsvp::RsvpForm, &'a str)>,
}

/// A message's own links: preferences (see `herald::consent`) and the guest's RSVP (see
/// `herald::rsvp::token`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Links {
    /// One-click unsubscribe (POST) from the message's category; the preference page on GET.
    pub unsubscribe: String,
    pub preferences: String,
    /// A guest's RSVP page (none for a recipient who is not a guest of the event).
    pub rsvp: Option<String>,
}

impl Links {
    pub fn new(public_url: &str, token: &str) -> Self {
        let (unsubscribe, preferences) = herald::consent::links(public_url, token);
        Self {
            unsubscribe,
            preferences,
            rsvp: None,
        }
    }

    /// With the guest's RSVP link of `token`.
    pub fn with_rsvp(mut self, public_url: &str, token: &str) -> Self {
        self.rsvp = Some(herald::rsvp::token::link(public_url, token));
        self
    }
}

/// A rendered message and the parts of its provider request.
#[derive(Debug, Clone)]
pub struct Composed {
    pub rendered: RenderedMessage,
    pub from: Option<From>,
    pub tags: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub configuration_set: Option<String>,
}

impl Composed {
    /// What a provider is given, to `to`.
    pub fn outgoing<'a>(&'a self, to: &'a str) -> Outgoing<'a> {
        Outgoing {
            to,
            from: self.from.clone(),
            message: &self.rendered,
            tags: self.tags.clone(),
            headers: self.headers.clone(),
            reply_to: None,
            configuration_set: self.configuration_set.clone(),
            tracking: None,
        }
    }
}

impl<'a> Composer<'a> {
    /// From parts: the compiled templates by channel (None: the channel has none usable), the
    /// compliance blocks, the render context of the job (its guest is replaced per message)
    /// and the email From.
    pub fn new(
        category: TemplateCategory,
        templates: HashMap<Channel, Option<CompiledTemplate<'a>>>,
        compliance: &'a [ComplianceBlock],
        context: RenderContext,
        from: Option<From>,
    ) -> Self {
        Self {
            category,
            templates,
            compliance,
            context,
            from,
            configuration_set: None,
            rsvp_form: None,
        }
    }

    /// The SES configuration set for providers that name none.
    pub fn with_configuration_set(mut self, set: Option<String>) -> Self {
        self.configuration_set = set;
        self
    }

    /// The job's composer from the event's snapshot: its templates for `channels` compiled
    /// once.
    pub fn for_snapshot(
        content: &'a SnapshotContent,
        category: TemplateCategory,
        channels: &[Channel],
    ) -> Self {
        let templates = channels
            .iter()
            .map(|channel| {
                let compiled = content
                    .config
                    .template(category, *channel)
                    .and_then(|t| CompiledTemplate::new(*channel, &t.template.content).ok());
                (*channel, compiled)
            })
            .collect();
        let from = content.email_sender.as_ref().map(|s| From {
            address: s.from_address.as_str().to_owned(),
            name: s.from_name.clone(),
        });
        let mut composer = Self::new(
            category,
            templates,
            &content.config.compliance,
            content.render_context(None),
            from,
        );
        let event = &content.event;
        composer.rsvp_form = event
            .rsvp
            .as_ref()
            .map(|form| (form, event.fields.default_locale.as_str()));
        composer
    }

    /// Renders one message for `recipient` on `channel` with its own preference `links`
    /// (`None`: a recipient with no contact to manage, whose message has none); the reason
    /// when it cannot be. An email with links carries `List-Unsubscribe` and
    /// `List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058).
    pub fn compose(
        &mut self,
        channel: Channel,
        recipient: &Recipient,
        tags: Vec<(String, String)>,
        links: Option<&Links>,
    ) -> Result<Composed, String> {
        let Some(Some(template)) = self.templates.get(&channel) else {
            return Err(format!(
                "the snapshot has no usable {channel} template for {}",
                self.category
            ));
        };
        self.context.guest = named(recipient.vars.clone());
        if let (Some((form, fallback)), Some(rsvp)) =
            (self.rsvp_form, self.context.guest.rsvp.as_mut())
        {
            let language = self.context.guest.locale.as_deref().unwrap_or(fallback);
            herald::rsvp::label_answer_vars(form, &mut rsvp.answers, language, fallback);
        }
        self.context.links.unsubscribe = links.map(|l| l.unsubscribe.clone()).unwrap_or_default();
        self.context.links.preferences = links.map(|l| l.preferences.clone()).unwrap_or_default();
        self.context.links.rsvp = links.and_then(|l| l.rsvp.clone());
        let rendered = template
            .render(&self.context, self.compliance)
            .map_err(|issues| {
                format!(
                    "rendering failed: {}",
                    issues
                        .iter()
                        .map(|i| format!("{} line {}: {}", i.field, i.line, i.message))
                        .collect::<Vec<_>>()
                        .join("; ")
                )
            })?;
        let email = channel == Channel::Email;
        Ok(Composed {
            rendered,
            from: self.from.clone().filter(|_| email),
            tags,
            headers: match links {
                Some(l) if email => vec![
                    (
                        "List-Unsubscribe".to_owned(),
                        format!("<{}>", l.unsubscribe),
                    ),
                    (
                        "List-Unsubscribe-Post".to_owned(),
                        "List-Unsubscribe=One-Click".to_owned(),
                    ),
                ],
                _ => Vec::new(),
            },
            configuration_set: self.configuration_set.clone().filter(|_| email),
        })
    }
}
