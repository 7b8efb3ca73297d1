# The console's text (English). Another language is a folder next to this one with the same
# messages; the console's templates translate with t("message-id", name=value).

## Layout

console-title-suffix = Herald console
console-skip = Skip to content
console-nav-label = Console
console-nav-overview = Overview
console-nav-settings = Settings
console-nav-api = API
console-sign-out = Sign out
console-role = { $role ->
    [platform_admin] platform admin
    [tenant_admin] tenant admin
   *[event_manager] event manager
}

## Signing in

console-sign-in-title = Sign in
console-sign-in-heading = Sign in to the Herald console
console-sign-in-key = API key
console-sign-in-hint = Your Herald API key (it starts with hrk_). The console keeps it only as a hash, for 8 hours or until you sign out; what you may see and do is what the key may.
console-sign-in-button = Sign in
console-problem = There is a problem
console-why-expired = Your session has expired. Sign in again to go on.
console-why-key_revoked = The API key this session signed in with has been revoked or rotated out. Sign in with a current key.
console-why-key_expired = The API key this session signed in with has expired. Sign in with a current key.
console-why-signed_out = Sign in to go on.
console-why-bye = You have signed out.
console-error-no-key = Enter an API key.
console-error-not-a-key = That is not a Herald API key: keys start with hrk_.
console-error-key-unusable = That API key has been revoked or has expired.
console-error-key-unknown = That API key is not valid.

## Pages that only say something

console-back-overview = Back to the overview
console-go-console = Go to the console
console-not-found-title = Page not found
console-not-found-text = There is nothing here, or it is not yours to see.
console-nowhere-text = There is nothing at this address.
console-csrf-title = This form has expired
console-csrf-text = The form was not sent from this console session (its security token is missing or wrong). Go back, reload the page and try again.
console-unexpected-title = Something went wrong
console-unexpected-text = An unexpected error occurred; it has been logged. Try again in a moment.
console-busy-title = Too many requests
console-busy-text = This key has made too many requests just now; wait a few seconds and try again.

## An event's tabs

console-breadcrumb = Breadcrumb
console-event-tabs = Event
console-tab-summary = Summary
console-tab-wizard = Setup wizard
console-tab-journey = Journey
console-tab-guests = Guests
console-tab-rsvp = RSVP
console-tab-campaigns = Campaigns
console-tab-analytics = Analytics

## Words several pages use

console-col-event = Event
console-col-campaign = Campaign
console-col-status = Status
console-col-name = Name
console-col-message = Message
console-col-channel = Channel
console-col-recipients = Recipients
console-col-sent = Sent
console-col-not-sent = Not sent
console-col-failed = Failed
console-col-provider = Provider
console-col-kind = Kind
console-col-layer = Layer
console-col-last-error = Last error
console-col-reason = Reason
console-col-guests = Guests
console-col-row = Row
console-col-email = Email
console-col-phone = Phone
console-col-tags = Tags
console-col-rsvp = RSVP
console-col-role = Role
console-col-when-utc = When (UTC)
console-starts = Starts
console-ends = Ends
console-time-zone = Time zone
console-language = Language
console-setup = Setup
console-save-for-event = Save for this event
# A date and time in UTC, e.g. "2031-03-13 10:00 UTC".
console-utc = { $time } UTC
# A message category and its channels, e.g. "invitation by email".
console-by = { $what } by { $how }
console-in-journey-step = (journey step { $step })
console-party-of = party of { $size }
console-no-response = no response
console-link-campaign = campaign
console-link-message = message
console-via = via { $provider }
console-line = line { $line }
console-column = column { $column }

## Overview

console-overview-tenants = Tenants
# Followed by the API call that creates a tenant.
console-overview-no-tenant = No tenant yet. Create one with
console-overview-dlq = Dead-letter queues
console-overview-queue = Queue
console-overview-messages = Messages
# Followed by the API path of the dead-letter queues.
console-overview-dlq-hint = Inspect and redrive them with
console-overview-dlq-unread = The dead-letter queues could not be read.
console-overview-acting = Acting in tenant { $tenant }
console-overview-all-tenants = all tenants
console-overview-bounce = Bounce rate
console-overview-bounce-hint = SES reviews an account at { $review } and may pause its sending at { $pause }.
console-overview-complaint = Complaint rate
console-overview-complaint-hint = SES reviews at { $review }, may pause at { $pause }.
console-overview-sent = Messages sent
console-overview-sent-hint = All time, every channel.
console-overview-events = Events
console-overview-review = Review readiness
console-overview-continue = Continue setup
# Followed by the API call that creates an event.
console-overview-no-event = No event yet. Create one with
console-overview-sending-now = Sending now
console-overview-show-live = Show campaigns sending now and provider health
console-overview-recent = Recent campaigns
console-overview-no-campaign = No campaign yet.

## What is sending now (the overview's live panel)

console-live-campaigns = Campaigns and journey steps
console-live-progress = Progress
console-live-progress-label = { $name }: { $done } of { $total } done
console-live-nothing = Nothing is sending or scheduled.
console-live-providers = Provider health
console-live-circuit = Circuit
console-live-circuit-open = open
console-live-circuit-closed = closed
console-live-no-provider = No provider yet.

## An event's summary

console-event-the-event = The event
console-event-snapshot-active = Snapshot { $version } is active since { $since } UTC.
console-event-changed = The configuration changed since it was activated: complete the wizard again to take the changes up.
console-event-not-complete = The setup is not complete yet.
console-event-open-wizard = Open the setup wizard
console-event-guests-link = Import and look up guests
console-event-campaigns-link = Create, schedule and watch campaigns
console-event-analytics-link = Funnels, rates and insights

## Journey

console-journey-moved = The event moved: its pending steps moved with it (each move is listed below).
console-journey-not-moved = The event was not moved
console-journey-active = The journey is active (snapshot { $version }): its steps are scheduled and move with the event.
console-journey-goes-live = The journey goes live when the setup wizard is completed.
console-journey-changed = The journey changed since it was activated: complete the wizard again to take the changes up.
console-journey-cannot-go-live = The journey cannot go live yet
console-journey-caption = Steps (blue) around the event's start and end (red), in the event's time zone ({ $zone }). When the event moves, every step anchored to it moves with it; each move is listed below.
console-journey-steps = Steps
console-journey-step = Step
console-journey-sends = Sends
console-journey-when = When (local)
console-journey-relative = Relative
console-journey-moves = Moves so far
console-journey-if-moved = If the event moves
console-journey-customised = customised
console-journey-move = { $before } → { $after } UTC
console-journey-not-moved-yet = not moved
console-journey-daylight = a daylight-saving change shifts it
console-journey-already-past = already past: { $when }
# The three parts of one sentence, around two API calls: "This event has no journey steps.
# Journeys are set with PUT … (the tenant's) and PUT … (the event's changes)."
console-journey-none = This event has no journey steps. Journeys are set with
console-journey-none-tenant = (the tenant's) and
console-journey-none-event = (the event's changes).
console-journey-move-title = Move the event
console-journey-move-hint = Times are the event's ({ $zone }). Preview shows where each step would go before anything is saved; steps already sent stay sent.
console-journey-bad-proposal = Give a start, and an end after it, to preview a move.
console-journey-preview = Preview the move
console-journey-move-to = Move the event to { $start } – { $end }

## RSVP

console-rsvp-expected = Expected attendance
console-rsvp-expected-hint = Accepted guests and their parties.
console-rsvp-expected-hint-maybe = Accepted guests and their parties; { $maybe } more if every "maybe" comes.
console-rsvp-close = Answers close
console-rsvp-no-deadline = No deadline
console-rsvp-answers = Answers
console-rsvp-answer = Answer
console-rsvp-list = List
console-rsvp-guests-who-answered = guests who answered { $answer }
console-rsvp-answered = { $count } answered.
console-rsvp-option = Option
console-rsvp-per-day = Answers per day
console-rsvp-day = Day
console-rsvp-accepted = Accepted
console-rsvp-declined = Declined
console-rsvp-maybe = Maybe
console-rsvp-all-guests = All guests and their answers

## Setup wizard

console-wizard-progress = Setup { $percent }% complete
# One sentence around two emphasised words: "Each item is *inherited* (from the tenant or the
# platform, named beside it) or *customised* for this event; one button switches it. …"
console-wizard-hint-each = Each item is
console-wizard-hint-inherited = inherited
console-wizard-hint-or = (from the tenant or the platform, named beside it) or
console-wizard-hint-customised = customised
console-wizard-hint-rest = for this event; one button switches it. Nothing reaches guests until the wizard is completed.
console-wizard-uses = What this event sends
console-wizard-channels = Channels
console-wizard-messages = Messages
console-wizard-save-uses = Save what the event sends
console-wizard-providers = Providers
# $layer is "tenant", "platform" or "event".
console-wizard-from-layer = from the { $layer }
console-wizard-not-used = (not used)
console-wizard-priority-of = priority { $priority }
console-wizard-test = Test connection
console-wizard-test-of = of { $name }
console-wizard-no-provider = No provider for { $channel } at any layer.
console-wizard-providers-inherit = Use the tenant's { $channel } providers instead
console-wizard-providers-customise = Customise { $channel } providers for this event
console-wizard-add-provider = Add a provider (its connection is tested before it is saved)
console-wizard-priority = Priority
console-wizard-priority-hint = Lower goes first.
console-wizard-layer-event = This event only
console-wizard-layer-tenant = Every event of the tenant
console-wizard-settings = Settings
# "One name=value per line, e.g. from_address=… (SES), …": the parts around the examples.
console-wizard-one = One
console-wizard-per-line-eg = per line, e.g.
console-wizard-per-line = per line
console-wizard-credentials = Credentials
console-wizard-credentials-hint = none for SES and SNS. Sealed with KMS, never shown again.
console-wizard-test-and-save = Test and save
console-wizard-templates = Templates
console-wizard-where-from = Where from
console-wizard-edit = Edit
console-wizard-switch = Switch
console-wizard-source-version = { $layer }, version { $version }
console-wizard-open = Open
# Visually hidden after "Edit", "Open", "Inherit" or "Customise", e.g. "the invitation email".
console-wizard-the-template = the { $category } { $channel }
console-wizard-inherit = Inherit
console-wizard-customise = Customise
console-wizard-templates-hint = A message the event sends needs a template on each of its channels: open a missing one from the readiness report below.
console-wizard-brand = Brand
console-wizard-sender = Email sender
console-wizard-sender-from = From
console-wizard-sender-address = From address for this event
console-wizard-sender-name = From name
console-wizard-sender-save = Save the event's sender
console-wizard-sender-inherit = Use the providers' sender
console-wizard-dns-for = DNS records for { $identity }
console-wizard-dns-hint = Publish these at your DNS host; SES verifies the identity once the DKIM records are found.
console-wizard-dns-type = Type
console-wizard-dns-value = Value
console-wizard-dns-for-what = For
console-wizard-dns-recommended = recommended
console-wizard-readiness = Readiness
console-wizard-ready = Ready: nothing blocks going live.
console-wizard-blockers = { $count ->
    [one] { $count } thing blocks going live:
   *[other] { $count } things block going live:
}
console-wizard-checked = What was checked
console-wizard-no-readiness = The readiness report could not be made.
console-wizard-completion = Completion
console-wizard-complete = Complete the setup

## The setup's completion (the wizard's status panel)

console-completion-latest = Latest completion:
console-completion-unchanged = , nothing had changed.
console-completion-active = : snapshot { $version } is active.
console-completion-updates = this updates by itself
console-completion-none = Not completed yet.

## A template's editor and its preview

console-template-not-saved = The template was not saved
console-template-own = This event's own template, version { $version }.
# $layer is "tenant" or "platform".
console-template-inherited = Inherited from the { $layer } (version { $version }): saving makes a copy for this event.
console-template-missing = No layer has this template: saving creates it for this event.
console-template-subject = Subject
console-template-html = HTML body
console-template-plain-text = Plain-text body (optional)
console-template-text = Text
console-template-preview = Preview
console-template-back = Back to the wizard
console-template-sample = (sample guest { $name })
console-preview-subject = Subject:
console-preview-frame = The email as guests see it
console-preview-plain-text = Plain text
# $encoding is GSM7 or UCS2.
console-preview-sms = { $segments ->
        [one] { $segments } segment
       *[other] { $segments } segments
    } ({ $encoding }, { $units } { $encoding ->
        [GSM7] characters
       *[other] UTF-16 units
    }).
console-preview-does-not-render = The draft does not render

## Guests

console-guests-imported = { $count ->
    [one] Imported { $count } guest
   *[other] Imported { $count } guests
}
console-guests-imported-detail = { $created } new, { $updated } updated, { $contacts } new contacts
console-guests-rows-rejected = { $count ->
    [one] { $count } row rejected
   *[other] { $count } rows rejected
}
console-guests-row = Row { $row }
console-guests-nothing-imported = Nothing was imported
console-guests-check-title = Check the import before it is written
# After the number of good rows: "2 of 3 rows will be imported".
console-guests-of-rows = { $total ->
    [one] of { $total } row will be imported
   *[other] of { $total } rows will be imported
}
# After the number of rejected rows.
console-guests-will-be-rejected = will be rejected
console-guests-nothing-written = Nothing has been written yet.
console-guests-rejected-rows = Rejected rows
console-guests-line = Line
console-guests-field = Field
console-guests-why = Why
console-guests-rows-to-import = Rows to import
console-guests-the-first = the first { $count }
console-guests-import-n = { $count ->
    [one] Import { $count } guest
   *[other] Import { $count } guests
}
console-guests-cancel = Cancel
console-guests-import-csv = Import guests from a CSV file
console-guests-csv-hint = A header row, then one guest per row. Columns: first_name, last_name, name, email, phone (E.164, e.g. +447700900123), locale, time_zone, tags (separated by ;), preferred_channel, rsvp, party_size; any other column is a custom field. Up to 10,000 rows.
console-guests-csv-file = CSV file
console-guests-csv-paste = Or paste the rows
console-guests-check-rows = Check the rows
console-guests-search = Search
console-guests-search-placeholder = name, email, phone or tag
console-guests-any-answer = any answer
console-guests-show = Show
console-guests-search-limit = The search read the first 5,000 guests only; narrow it with the RSVP filter.
console-guests-who-answered = who answered { $answer }
console-guests-matching = matching “{ $search }”
console-guests-next = Next guests
console-guests-none-match = No guest matches.
console-guests-none-yet = No guest yet.

## A guest

console-guest-timeline = Timeline
console-guest-upcoming = upcoming
console-guest-delivery = Delivery:
# $reached is what the guest did, e.g. "opened".
console-guest-unless = Sent unless the guest has { $reached } the earlier message.
console-guest-story = Delivery story of message { $id }
console-guest-no-message = No message to this guest yet.

## A message

console-message-title = Message { $id }
console-message-guest = Guest
console-message-delivery = delivery
console-message-its-id = its id:
console-message-attempts = Attempts
console-message-what-happened = What happened
console-message-nothing-yet = Nothing yet: the message is { $status }.

## Campaigns

console-campaigns-not-created = The campaign was not created
console-campaigns-new = New campaign
console-campaigns-channels = Channels, in order of preference
console-campaigns-audience = Who receives it
console-campaigns-audience-all = Every guest of the event
console-campaigns-audience-tags = Guests with any of these tags
console-campaigns-tags = Tags (comma-separated)
console-campaigns-audience-rsvp = Guests whose RSVP is
console-campaigns-send-at = Send at (the event's time, { $zone })
console-campaigns-send-at-hint = Leave empty to send as soon as you press Send.
console-campaigns-create-send = Create and send
console-campaigns-save-draft = Save as a draft
console-campaigns-of = Campaigns of { $event }

## A campaign

# Between a campaign's channels: "email, then sms".
console-campaign-then = {", then "}
console-campaign-audience = Audience
console-campaign-audience-all = every guest
console-campaign-audience-tags = tags { $tags }
console-campaign-audience-rsvp = RSVP { $statuses }
console-campaign-send-at = Send at
console-campaign-journey-step = Journey step
console-campaign-schedule = Schedule for { $time } UTC
console-campaign-send-now = Send now
console-campaign-cancel = Cancel the campaign
console-campaign-counts = Counts
# "2 of 3 recipients handled": the numbers are around "of".
console-campaign-of = of
console-campaign-handled = recipients handled
console-campaign-updates = updates by itself
console-campaign-progress-label = { $done } of { $total } handled
console-campaign-by-reason = Not sent, by reason
console-campaign-reasons-hint = A guest's page shows each of their messages with its provider's answer.

## Analytics

console-analytics-download = Download the figures (CSV)
console-analytics-insights = Insights
console-analytics-evidence = Evidence
console-analytics-nothing = Nothing stands out: no provider's bounce or complaint rate is high.
console-analytics-funnel = Funnel, { $name }
console-analytics-rates = Rates, { $name }
console-analytics-last-hour = Over the last hour
console-analytics-last-hour-caption = { $count } messages sent by the tenant in the last hour, per minute.

## Settings

console-settings-tenant = Tenant { $tenant }
console-settings-platform = platform settings
console-settings-crm = CRM connection and runs
console-settings-platform-hint = These are the platform's own keys and audit log. A tenant's settings are reached from the overview: choose the tenant, then Settings.
console-settings-created = New key: copy its secret now
# Around the key's name: "The secret of <name> is shown this once:".
console-settings-secret-of = The secret of
console-settings-shown-once = is shown this once:
console-settings-secret = Secret
console-settings-keys = API keys
console-settings-created-at = Created
console-settings-state = State
console-settings-actions = Actions
console-settings-events = { $count ->
    [one] { $count } event
   *[other] { $count } events
}
console-settings-expires = expires { $time } UTC
console-settings-rotate = Rotate
console-settings-revoke = Revoke
console-settings-keys-hint = Rotating gives a new secret and keeps the old one working for 24 hours; revoking stops a key at once (and ends its console sessions).
console-settings-new-key = New key
console-settings-key-events = Events an event manager may see
console-settings-create-key = Create the key
console-settings-webhooks = Webhook endpoints
console-settings-url = URL
console-settings-event-types = Events
# Followed by the API call that adds an endpoint.
console-settings-no-endpoint = No endpoint. Add one with

## A webhook endpoint

console-webhook-title = Webhook endpoint
console-webhook-failing-since = failing since { $time } UTC
console-webhook-attempts = Attempts
console-webhook-attempt = Attempt
console-webhook-outcome = Outcome
console-webhook-http = HTTP
console-webhook-ms = ms
console-webhook-error = Error
console-webhook-none = No attempt yet.

## Audit log

console-audit-title = Audit log
console-audit-hint = Every change made with an API key (the console's included), newest first. Nobody can change or delete it.
console-audit-key = Key
console-audit-action = Action
console-audit-target = Target
console-audit-older = Older entries
console-audit-none = Nothing yet.

## Suppressions

console-suppressions-title = Suppressions
console-suppressions-hint = Addresses Herald sends nothing to: hard bounces and complaints land here by themselves. Addresses are shown masked.
console-suppressions-address = Address
console-suppressions-source = Source
console-suppressions-since = Since (UTC)
console-suppressions-more = More
console-suppressions-none = No suppressed address.

## CRM

console-crm = CRM
console-crm-title = CRM connection
# Followed by the API call that connects a CRM.
console-crm-none = No CRM is connected. Connect HubSpot or Salesforce with
console-crm-runs = Runs
console-crm-run = Run
console-crm-started = Started (UTC)
console-crm-finished = Finished (UTC)
console-crm-no-run = No run yet.

## Local outbox

console-outbox-title = Local outbox
console-outbox-hint = On the local stack only: every email and text message the emulator accepted, newest first.
console-outbox-email-n = Email { $n }
console-outbox-no-subject = (no subject)
console-outbox-to = To
console-outbox-from = From
console-outbox-herald-message = Herald message
console-outbox-guest-timeline = guest timeline
console-outbox-headers = Headers
console-outbox-tag = tag { $name }
console-outbox-email-as-sent = Email { $n } as sent
console-outbox-no-email = No email yet.
console-outbox-texts = Text messages
console-outbox-via = Via
console-outbox-no-text = No text message yet.

## API index and reference

console-api-title = Herald API
console-api-heading = Herald API, version 1
# One sentence around code: "Every route is under /api/v1; authenticate with Authorization: …
# Errors are application/problem+json."
console-api-routes = Every route is under
console-api-authenticate = authenticate with
console-api-errors = Errors are
console-api-reference = API reference
console-api-reference-text = every operation, its parameters and answers, for people.
console-api-openapi = OpenAPI 3.1 document
console-api-openapi-text = the same, for code generators and clients.
console-api-console = The console
console-api-console-text = set up, watch and steer your events in a browser.
console-reference-crumb = Reference
console-reference-heading = { $title } reference
# Followed by a link, "the OpenAPI document".
console-reference-count = { $count } operations, rendered from
console-reference-document = the OpenAPI document
console-reference-groups = Groups
console-reference-operations = { $count ->
    [one] { $count } operation
   *[other] { $count } operations
}
console-reference-more = More
console-reference-parameters = Parameters
console-reference-in = In
console-reference-required = Required
console-reference-description = Description
console-reference-yes = yes
console-reference-no = no
console-reference-body = Body:
console-reference-answers = Answers:
console-reference-needs-key = needs an API key

## Inbox and conversations
console-nav-inbox = Inbox
console-inbox-title = Inbox
console-inbox-search = Words in the conversation
console-inbox-search-hint = Any case, with or without accents: "cafe" finds "Café".
console-inbox-any = Any
console-inbox-priority = Priority
console-inbox-channel = Channel
console-inbox-queue = Queue
console-inbox-queue-hint = Lower-case letters, digits, _ and -.
console-inbox-show = Show
console-inbox-caption = Conversations, newest first
console-inbox-who = Guest
console-inbox-last = Last message
console-inbox-when = Last activity
console-inbox-next = Next page
console-inbox-none = No conversation matches.
console-inbox-escalated = Escalation
console-inbox-escalated-only = Escalated
console-inbox-not-escalated = Not escalated
console-overview-escalated = Escalated conversations
console-overview-escalated-hint = Guests waiting longer than their queue allows. Answer them, or close the conversation.
console-overview-escalated-none = No conversation is escalated.
console-overview-escalated-all = All escalated conversations
console-inbox-search-on = Search older conversations
console-conversation-title = Conversation with { $who }
console-conversation-event = Event
console-conversation-flags = Needs a look
console-conversation-thread = Messages
console-conversation-from-guest = The guest, by { $channel }
console-conversation-from-team = The event team, by { $channel }
console-conversation-from-herald = Herald, automatically, by { $channel }
console-conversation-whole = The whole message
console-conversation-attachments = Attachments
console-conversation-actions = What Herald did
console-conversation-reply = Reply
console-conversation-last-channel = The guest's last channel ({ $channel })
console-conversation-message = Message
console-conversation-send = Send the reply
console-conversation-handle = Status, queue and priority
console-conversation-save = Save
