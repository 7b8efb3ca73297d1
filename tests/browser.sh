#!/usr/bin/env bash
# The guest pages in a real browser (tests/browser/pages.mjs: Debian's chromium driven by
# playwright-core, axe-core on every page), against a fresh local stack with an event, its RSVP
# form and a guest whose links the script issues. `make browser-tools` installs chromium (if
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
