//! The closed sets of names Herald knows: channels, template categories, layers, roles, provider kinds.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A name that is not one of a closed set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} '{value}'; expected one of: {expected}")]
pub struct UnknownVariant {
    pub kind: &'static str,
    pub value: String,
    pub expected: String,
}

macro_rules! named_enum {
    ($(#[$meta:meta])* $name:ident, $kind:literal { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] #[schema(rename = $text)] $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownVariant;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(UnknownVariant {
                        kind: $kind,
                        value: s.chars().take(64).collect(),
                        expected: [$($text),+].join(", "),
                    }),
                }
            }
        }
    };
}

named_enum!(
    /// A way of reaching a guest.
    Channel, "channel" {
        Email = "email",
        Sms = "sms",
        Whatsapp = "whatsapp",
    }
);

named_enum!(
    /// The ten template categories, in the order of an event's life cycle.
    TemplateCategory, "category" {
        SaveTheDate = "save_the_date",
        Invitation = "invitation",
        RsvpConfirmation = "rsvp_confirmation",
        Reminder = "reminder",
        ScheduleChange = "schedule_change",
        Logistics = "logistics",
        DayOf = "day_of",
        ThankYou = "thank_you",
        Survey = "survey",
        Cancellation = "cancellation",
    }
);

named_enum!(
    /// What a provider said happened to a message after Herald sent it.
    DeliveryEvent, "delivery event" {
        /// The provider accepted it (SES's Send event, a Twilio or WhatsApp `sent` status).
        Sent = "sent",
        /// Delivery is delayed; the provider keeps trying.
        Delayed = "delayed",
        Delivered = "delivered",
        Opened = "opened",
        Clicked = "clicked",
        /// A permanent or transient bounce (the kind is in the event's detail).
        Bounced = "bounced",
        /// The recipient marked it as spam.
        Complained = "complained",
        /// SES refused it (e.g. a virus) after accepting the request.
        Rejected = "rejected",
        /// SES could not render the template.
        RenderingFailed = "rendering_failed",
        /// An SMS or WhatsApp message the carrier or WhatsApp did not deliver.
        Failed = "failed",
        /// The recipient unsubscribed through the provider.
        Unsubscribed = "unsubscribed",
    }
);

named_enum!(
    /// Where a consent change came from.
    ConsentSource, "consent source" {
        /// The guest, on the preference page or its JSON API (a signed link).
        GuestLink = "guest_link",
        /// The guest, by one-click unsubscribe (RFC 8058) from a message's List-Unsubscribe.
        OneClick = "one_click",
        /// A tenant, over the API.
        Api = "api",
        /// The tenant's CRM, by the sync.
        Crm = "crm",
        /// A permanent bounce.
        Bounce = "bounce",
        /// A spam complaint.
        Complaint = "complaint",
        /// The recipient, through SES's own subscription management (an SES Subscription
        /// event: its unsubscribe page or list-unsubscribe header).
        SesSubscription = "ses_subscription",
        /// The recipient, by a keyword reply (STOP, START) on SMS or WhatsApp.
        Keyword = "keyword",
    }
);

named_enum!(
    /// The calendar period (UTC) of a frequency cap.
    CapPeriod, "cap period" {
        Day = "day",
        Week = "week",
    }
);

named_enum!(
    /// A layer of configuration, from the most general to the most specific.
    Layer, "layer" {
        Platform = "platform",
        Tenant = "tenant",
        Event = "event",
    }
);

named_enum!(
    /// What an API key may do.
    Role, "role" {
        /// Everything, across tenants; the only role that edits global templates and compliance blocks.
        PlatformAdmin = "platform_admin",
        /// Everything within one tenant.
        TenantAdmin = "tenant_admin",
        /// Reads its tenant's defaults; reads and configures only the events listed on the key.
        EventManager = "event_manager",
    }
);

named_enum!(
    /// A communication provider, each serving one channel.
    ProviderKind, "provider kind" {
        Ses = "ses",
        Brevo = "brevo",
        Sendgrid = "sendgrid",
        Sns = "sns",
        Twilio = "twilio",
        WhatsappCloud = "whatsapp_cloud",
    }
);

impl ProviderKind {
    pub fn channel(self) -> Channel {
        match self {
            ProviderKind::Ses | ProviderKind::Brevo | ProviderKind::Sendgrid => Channel::Email,
            ProviderKind::Sns | ProviderKind::Twilio => Channel::Sms,
            ProviderKind::WhatsappCloud => Channel::Whatsapp,
        }
    }
}

named_enum!(
    /// A CRM a tenant connects to.
    CrmKind, "CRM" {
        /// HubSpot, with a private app's access token.
        Hubspot = "hubspot",
        /// Salesforce, with a connected app's client credentials (OAuth 2.0) at the org's My
        /// Domain URL.
        Salesforce = "salesforce",
    }
);

named_enum!(
    /// A contact field the CRM sync maps to a CRM property.
    CrmField, "contact field" {
        Email = "email",
        Phone = "phone",
        FirstName = "first_name",
        LastName = "last_name",
        Company = "company",
        LifecycleStage = "lifecycle_stage",
        /// Opted out of every email (true, false).
        EmailOptOut = "email_opt_out",
        /// Opted out of every SMS.
        SmsOptOut = "sms_opt_out",
        /// Opted out of every WhatsApp message.
        WhatsappOptOut = "whatsapp_opt_out",
        /// When Herald last sent the contact a message (pushed only).
        LastMessageSentAt = "last_message_sent_at",
        /// When the contact last opened a message (pushed only).
        LastOpenedAt = "last_opened_at",
        /// When the contact last clicked a link in a message (pushed only).
        LastClickedAt = "last_clicked_at",
        /// The latest event the contact is a guest of (pushed only).
        LastEvent = "last_event",
        /// The contact's RSVP to the event they answered last: accepted, declined or maybe
        /// (pushed only).
        LastEventRsvp = "last_event_rsvp",
    }
);

named_enum!(
    /// Which way a mapped field is synced.
    SyncDirection, "sync direction" {
        /// CRM to Herald and back.
        Both = "both",
        /// CRM to Herald only.
        Pull = "pull",
        /// Herald to the CRM only.
        Push = "push",
    }
);

named_enum!(
    /// Where a sync run stands.
    SyncStatus, "sync status" {
        Queued = "queued",
        Running = "running",
        Completed = "completed",
        /// Stopped by an error (the report says which); the cursor kept what was applied.
        Failed = "failed",
    }
);

named_enum!(
    /// What an outgoing webhook tells a tenant's endpoint about.
    WebhookEventType, "webhook event type" {
        MessageSent = "message.sent",
        MessageDelivered = "message.delivered",
        MessageBounced = "message.bounced",
        MessageComplained = "message.complained",
        MessageOpened = "message.opened",
        MessageClicked = "message.clicked",
        CampaignCompleted = "campaign.completed",
        ContactUnsubscribed = "contact.unsubscribed",
        CrmSyncCompleted = "crm.sync_completed",
        /// A guest answered the event's RSVP, or the answer changed.
        GuestRsvpChanged = "guest.rsvp_changed",
        /// A guest's message landed in a conversation.
        ConversationMessageReceived = "conversation.message_received",
        /// A conversation stayed unanswered past its queue's limit.
        ConversationEscalated = "conversation.escalated",
    }
);

named_enum!(
    /// Where a conversation stands: waiting for the event team (`open`), for the guest
    /// (`waiting`, after a reply), or done (`closed`; a new message from the guest reopens it).
    ConversationStatus, "conversation status" {
        Open = "open",
        Waiting = "waiting",
        Closed = "closed",
    }
);

named_enum!(
    /// How soon a conversation needs a person.
    Priority, "priority" {
        Low = "low",
        Normal = "normal",
        High = "high",
        Urgent = "urgent",
    }
);

named_enum!(
    /// Which way a conversation's message went.
    Direction, "direction" {
        /// From the guest.
        Inbound = "inbound",
        /// To the guest: a person's reply, an automatic reply or a keyword's confirmation.
        Outbound = "outbound",
    }
);

named_enum!(
    /// A guest's answer to an invitation.
    RsvpStatus, "RSVP status" {
        Accepted = "accepted",
        Declined = "declined",
        Maybe = "maybe",
    }
);

named_enum!(
    /// Where a guest's RSVP came from.
    RsvpSource, "RSVP source" {
        /// The guest's own RSVP link (the page or the JSON API behind it).
        Link = "link",
        /// The tenant, over the API.
        Api = "api",
        /// A guest import's `rsvp` column.
        Import = "import",
        /// A guest's reply to a message.
        Reply = "reply",
    }
);

named_enum!(
    /// Where a guest stands with the RSVP, for audiences and the guest list: an answer, or none.
    RsvpState, "RSVP state" {
        Accepted = "accepted",
        Declined = "declined",
        Maybe = "maybe",
        NoResponse = "no_response",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ten_categories_that_round_trip() {
        assert_eq!(TemplateCategory::ALL.len(), 10);
        for c in TemplateCategory::ALL {
            assert_eq!(c.as_str().parse::<TemplateCategory>(), Ok(*c));
            assert_eq!(
                serde_json::to_value(c).unwrap(),
                serde_json::json!(c.as_str())
            );
        }
    }

    #[test]
    fn unknown_names_say_what_is_expected() {
        let err = "fax".parse::<Channel>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown channel 'fax'; expected one of: email, sms, whatsapp"
        );
    }

    #[test]
    fn every_provider_kind_serves_a_channel() {
        assert_eq!(ProviderKind::Twilio.channel(), Channel::Sms);
        assert_eq!(ProviderKind::Sendgrid.channel(), Channel::Email);
        assert_eq!(ProviderKind::WhatsappCloud.channel(), Channel::Whatsapp);
    }
}
