#!/usr/bin/env bash
# The guest pages and the console in a real browser (tests/browser/pages.mjs and console.mjs:
# Debian's chromium driven by playwright-core, axe-core on every page), against a fresh local
# stack with an event, its RSVP form and a guest whose links the script issues, and what the
# console's main path needs. SCREENSHOTS=dir (make screenshots) writes the README's screenshots. `make browser-tools` installs chromium (if
# missing) and the pinned npm packages.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
# shellcheck source=tests/local_stack.sh
. tests/local_stack.sh
start_local_stack
api="$STACK_BASE/api/v1"

tenant="$(call "$STACK_ADMIN_KEY" -X POST "$api/tenants" -d '{"name": "Acme Events"}' | json "['id']")"
key="$(call "$STACK_ADMIN_KEY" -X POST "$api/api-keys?tenant_id=$tenant" \
  -d '{"name": "browser", "role": "tenant_admin"}' | json "['secret']")"
event="$(call "$key" -X POST "$api/events" -d '{"name": "Spring Gala",
  "starts_at": "2027-05-01T18:00:00", "ends_at": "2027-05-01T23:30:00",
  "time_zone": "Europe/Paris", "default_locale": "en-GB"}' | json "['id']")"
call "$key" -X PUT "$api/events/$event/rsvp/form" -d '{"version": 0, "deadline": "2027-04-20T23:59:00",
  "max_plus_ones": 2, "questions": [
   {"id": "menu", "kind": "single_choice", "required": true, "label": {"en": "Your menu", "fr": "Votre menu"},
    "options": [{"id": "meat", "label": {"en": "Meat", "fr": "Viande"}}, {"id": "fish", "label": {"en": "Fish", "fr": "Poisson"}}]},
   {"id": "sessions", "kind": "multiple_choice", "label": {"en": "Sessions", "fr": "Sessions"},
    "options": [{"id": "am", "label": {"en": "Morning", "fr": "Matin"}}, {"id": "pm", "label": {"en": "Afternoon", "fr": "Après-midi"}}]},
   {"id": "allergies", "kind": "short_text", "label": {"en": "Allergies", "fr": "Allergies"}}]}' >/dev/null
call "$key" -X POST "$api/events/$event/guests" \
  -d '{"guests": [{"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com", "phone": "+447700900123"}]}' >/dev/null
guest="$(call "$key" "$api/events/$event/guests" | json "['items'][0]['id']")"
contact="$(call "$key" "$api/events/$event/guests" | json "['items'][0]['contact_id']")"
RSVP_URL="$(call "$key" -X POST "$api/events/$event/guests/$guest/rsvp-link" | json "['rsvp_url']")"
links="$(call "$key" -X POST "$api/communication/contacts/$contact/preference-link")"
PREFERENCES_URL="$(json "['preferences_url']" <<<"$links")"
UNSUBSCRIBE_URL="$(json "['unsubscribe_url']" <<<"$links")"
REFUSED_URL="$STACK_BASE/rsvp/not-a-token"
export RSVP_URL PREFERENCES_URL UNSUBSCRIBE_URL REFUSED_URL
node tests/browser/pages.mjs

# The console: the platform's compliance blocks, the tenant's SES provider, sender and
# invitation email, what the event sends; another event, an event manager of the first, and
# another tenant's event (for the 404s).
for block in opt_out_text gdpr_notice legal_footer; do
  call "$STACK_ADMIN_KEY" -X PUT "$api/communication/compliance/$block" -d "{\"version\": 0, \"text\": \"$block text\"}" >/dev/null
done
call "$key" -X POST "$api/communication/providers" \
  -d '{"kind": "ses", "name": "SES", "priority": 1, "settings": {"from_address": "events@acme.example"}}' >/dev/null
call "$key" -X POST "$api/communication/senders" -d '{"identity": "acme.example"}' >/dev/null
call "$key" -X POST "$api/communication/templates" -d '{"category": "invitation", "channel": "email",
  "subject": "You are invited to {{ event.name }}", "html": "<p>Hello {{ guest.first_name }}</p>"}' >/dev/null
call "$key" -X PUT "$api/events/$event/wizard/uses" -d '{"channels": ["email"], "categories": ["invitation"]}' >/dev/null
# Guests may wait 30 minutes for an answer (the test fires the escalation's schedule early).
call "$key" -X PUT "$api/communication/conversation-settings" \
  -d '{"version": 0, "queues": {"general": {"escalate_after_minutes": 30}}}' >/dev/null
other="$(call "$key" -X POST "$api/events" -d '{"name": "Other event", "starts_at": "2027-06-01T18:00:00",
  "ends_at": "2027-06-01T22:00:00", "time_zone": "Europe/Paris", "default_locale": "en-GB"}' | json "['id']")"
manager="$(call "$key" -X POST "$api/api-keys" -d "{\"name\": \"Ed\", \"role\": \"event_manager\", \"event_ids\": [\"$event\"]}" | json "['secret']")"
foreign_tenant="$(call "$STACK_ADMIN_KEY" -X POST "$api/tenants" -d '{"name": "Globex"}' | json "['id']")"
foreign_key="$(call "$STACK_ADMIN_KEY" -X POST "$api/api-keys?tenant_id=$foreign_tenant" -d '{"name": "globex", "role": "tenant_admin"}' | json "['secret']")"
foreign_event="$(call "$foreign_key" -X POST "$api/events" -d '{"name": "Globex gala", "starts_at": "2027-06-01T18:00:00",
  "ends_at": "2027-06-01T22:00:00", "time_zone": "UTC", "default_locale": "en-GB"}' | json "['id']")"
CONSOLE_URL="$STACK_BASE" TENANT_KEY="$key" MANAGER_KEY="$manager" EVENT_ID="$event" \
  OTHER_EVENT_ID="$other" FOREIGN_EVENT_ID="$foreign_event" node tests/browser/console.mjs
