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
