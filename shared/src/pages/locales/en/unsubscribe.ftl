# The page of a message's unsubscribe link.

unsubscribe-title = Unsubscribe
unsubscribe-will-stop = You will no longer receive “{ $category }” messages { $channel } from { $tenant }.
unsubscribe-will-stop-all = You will no longer receive any messages from { $tenant }, on any channel.
unsubscribe-button = Unsubscribe
unsubscribe-still = You will still receive
unsubscribe-still-now = What you still receive
unsubscribe-still-all = { $channel }: all messages
unsubscribe-still-all-other = { $channel }: all other messages
unsubscribe-still-some = { $channel }: { $categories }
unsubscribe-still-nothing = Nothing: { $tenant } will send you no messages.
unsubscribe-manage = Choose what you receive instead
unsubscribe-manage-after = Change what you receive

unsubscribed-title = You are unsubscribed
unsubscribed-text = You will no longer receive “{ $category }” messages { $channel } from { $tenant }.
unsubscribed-text-all = You will no longer receive any messages from { $tenant }.
