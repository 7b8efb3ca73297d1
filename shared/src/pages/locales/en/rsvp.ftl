# The RSVP page: a guest answers an invitation.

rsvp-title = Your answer
rsvp-invite = { $tenant } invites you to { $event }.
rsvp-when = When: { $when }
rsvp-cancelled = This event was cancelled.
rsvp-coming = Will you come?
rsvp-choice-accepted = Yes, I will come
rsvp-choice-declined = No, I cannot come
rsvp-choice-maybe = Maybe
rsvp-party = How many people, including you?
rsvp-party-hint = You and up to { $others } more: { $max } at most.
rsvp-optional = (optional)
rsvp-questions-declined = If you cannot come, you do not need to answer the questions.
rsvp-until = You can change your answer until { $deadline }.
rsvp-send = Send my answer
rsvp-saved = Your answer is saved
rsvp-saved-text = Thank you. You can change it here until { $deadline }.
rsvp-your-answer = Your answer
rsvp-none = You have not answered.
rsvp-status-accepted = Coming
rsvp-status-declined = Not coming
rsvp-status-maybe = Maybe
rsvp-people = People: { $count }
rsvp-closed = Answers are closed
rsvp-closed-deadline = The deadline for answers passed on { $deadline }.
rsvp-closed-cancelled = The event was cancelled, so it takes no more answers.

rsvp-error-status = Will you come: choose yes, no or maybe
rsvp-error-party = How many people: enter a whole number from 1 to { $max }
rsvp-error-required = { $question }: answer this question
rsvp-error-answer = { $question }: choose from the options given, or write at most 500 characters
