# touchbot messages, English. This is the fallback locale: every key lives here first.
# Variables a message may use are declared in src/messages/keys.rs; the program refuses to
# start if a template uses one that is not declared for it.
# Texts use only $contact, $account, $csm, plus $days_left / $renewal_date in renewal
# messages, so a caller that knows who it talks to can always render them.

## Client-facing touches

welcome =
    Hi { $contact }, welcome aboard! We're glad { $account } is with us.
    I'm the assistant of your customer success manager, { $csm }. Over the next weeks I'll check in now and then and pass anything you need straight to { $csm }. You can write here any time.

checkin-week-1 =
    Hi { $contact }, your first week is behind you. How is the start going?
    { $csm } would like to agree a simple plan for the first month with you. Tap a button below or just reply here.

checkin-week-2 =
    Hi { $contact }, two weeks in. Are any decisions still open, such as settings, access or who uses what?
    If something is holding you up, { $csm } will help sort it out.

checkin-week-3 =
    Hi { $contact }, week three is a good moment to look at the first results.
    What already works well for { $account }, and what doesn't yet?

checkin-week-4 =
    Hi { $contact }, your first month is almost done. { $csm } suggests a short look back at what went well, and a plan for the next quarter.
    How are things on your side?

checkin =
    Hi { $contact }, just checking in. How is { $account } getting on?
    If anything could work better for you, let us know here.

checkpoint-30 =
    Hi { $contact }, it's been 30 days since you started.
    { $csm } would like to go over the first month with you: what works, what's missing, and your goals for the next two months. When would suit you?

review-90 =
    Hi { $contact }, three months together already!
    { $csm } would like to set up a results review: what has changed for { $account } and where to go next. Reply here and we'll find a time.

qbr =
    Hi { $contact }, it's time for our quarterly business review.
    { $csm } will bring the results for { $account } and a few ideas for the next quarter. Which days work for you and your team?

nps =
    Hi { $contact }, one quick question: on a scale from 0 to 10, how likely are you to recommend us to a colleague?
    Just tap a number, it takes a second.

csat =
    Hi { $contact }, your recent support request has been closed.
    How satisfied are you with the help you got, from 1 (not at all) to 5 (completely)?

renewal-90 =
    Hi { $contact }, a friendly heads-up: the { $account } subscription renews on { $renewal_date }, { $days_left ->
        [one] in { $days_left } day
       *[other] in { $days_left } days
    }.
    { $csm } will get in touch to hear about your plans and any changes you'd like.

renewal-60 =
    Hi { $contact }, the { $account } subscription renews on { $renewal_date }, { $days_left ->
        [one] { $days_left } day from now
       *[other] { $days_left } days from now
    }.
    If you'd like to review your plan, seats or terms, { $csm } is happy to help.

renewal-30 =
    Hi { $contact }, { $days_left ->
        [one] { $days_left } day is
       *[other] { $days_left } days are
    } left until the { $account } renewal on { $renewal_date }.
    Is there anything we should settle before then? Reply here and { $csm } will take care of it.

renewal-7 =
    Hi { $contact }, a short reminder: the { $account } subscription renews on { $renewal_date }, { $days_left ->
        [one] in { $days_left } day
       *[other] in { $days_left } days
    }.
    If you have any questions, { $csm } is on hand.

## Internal reminders to the CSM

task-checkpoint-30 =
    { $csm }, the 30-day checkpoint for { $account } is due.
    Book a call with the client to go over the first month, their goals and any blockers.

task-review-90 =
    { $csm }, the 90-day results review for { $account } is due.
    Gather the numbers (usage, goals reached) and schedule the review with the client.

task-renewal-120 =
    { $csm }, { $account } renews on { $renewal_date } (in { $days_left } days).
    Review the account's health now and note any risks while there is time to act.

task-renewal-90 =
    { $csm }, { $account } renews on { $renewal_date } (in { $days_left } days).
    Kick off the renewal: open the renewal deal and agree the next steps with the client.

task-renewal-60 =
    { $csm }, { $account } renews on { $renewal_date } (in { $days_left } days).
    Call the client about the renewal. If the account's health is low, bring in your manager now.

task-renewal-30 =
    { $csm }, { $account } renews on { $renewal_date } (in { $days_left } days).
    If the renewal has not moved forward, escalate to your manager today.

task-renewal-7 =
    Urgent, { $csm }: { $account } renews on { $renewal_date }, { $days_left ->
        [one] in { $days_left } day
       *[other] in { $days_left } days
    }.
    Make sure the renewal is signed, or escalate it right away.

## Quick replies (button labels: no variables, at most 20 characters for WhatsApp)

checkin-reply-good = All good
checkin-reply-help = I need help
checkin-reply-manager = Talk to my manager

## The bot's answers

nps-thanks-promoter =
    Thank you, { $contact }! We're really glad it works well for you.
    If you ever have ideas, { $csm } would love to hear them.

nps-thanks-passive =
    Thank you, { $contact }! We'll keep working to make things better.
    If one thing would make a real difference for you, just write it here.

nps-thanks-detractor =
    Thank you for being honest, { $contact }. We're sorry we've fallen short.
    { $csm } will look into it and get back to you personally.

nps-ask-why = Thank you! What's the main reason for your score? A few words are plenty.

nps-reask = Sorry, I didn't catch that. Please send a number from 0 to 10, or tap one of the buttons above.

csat-thanks = Thank you for the rating, { $contact }! It helps our support team get better.

checkin-thanks = Great to hear, { $contact }, thanks! If anything comes up, just write here.

checkin-help-ack = Got it. I've let { $csm } know, and they will get in touch with you shortly.

optout-confirm =
    Done: you won't receive surveys or check-ins from us any more.
    Important notices, such as renewal reminders, will still reach you. Send /start if you change your mind.

optin-confirm = Welcome back, { $contact }! Surveys and check-ins are on again. Send /stop any time to turn them off.

fallback-forwarded = Thanks for your message! I've passed it on to { $csm }, who will get back to you.

## Telegram: joining, commands and buttons

tg-joined =
    Hi { $contact }, you're connected! This is where { $account }'s check-ins and short surveys from { $csm } will arrive.
    Send /stop to pause surveys and check-ins, /language to change the language.

tg-join-already = You're already connected, { $contact }. Nothing more to do.

tg-join-expired = This link has expired. Please ask your customer success manager for a new one.

tg-join-invalid = This link doesn't work any more: it has been used already or replaced by a newer one. Please ask your customer success manager for a new one.

tg-join-chat-taken = This chat is already connected to another contact, so the link was not used. If that's a mistake, please tell your customer success manager.

tg-stranger = Hello! I'm a customer success assistant. I don't know this chat yet: please open the personal link your customer success manager sent you.

tg-start-again = You're all set, { $contact }: check-ins and surveys will arrive here. Send /stop any time to pause them.

tg-help =
    I pass on check-ins and short surveys from { $csm }, and everything you write here reaches them.
    /stop: pause surveys and check-ins
    /start: turn them back on
    /language: change the language

tg-language-choose = Which language should I write in?

tg-language-set = Done: I'll write to you in English from now on.

language-name = English

tg-already-answered = You've already answered this one. Thank you!

tg-button-stale = This button doesn't work any more.


## WhatsApp: the same texts where Telegram's wording would not fit (no /commands there; words
## alone work instead). A wa- text takes the variables of the text it stands for.

wa-stranger = Hello! I'm a customer success assistant. I don't recognise this number yet: please ask your customer success manager to add it, and I'll be glad to help.

wa-help =
    I bring you check-ins and short surveys from { $csm }, and whatever you write here reaches them.
    Write STOP to pause surveys and check-ins.
    Write START to switch them back on.
    Write LANGUAGE to pick another language.

wa-start-again = You're all set, { $contact }: check-ins and surveys will come to this chat. Write STOP whenever you'd like to pause them.

wa-nps-reask = Sorry, I couldn't read that as a score. Please reply with one number from 0 (not likely at all) to 10 (extremely likely).

wa-optout-confirm =
    Done: no more surveys or check-ins from us.
    Important notices, such as renewal reminders, will still come. If you change your mind, just write START.

wa-optin-confirm = Good to have you back, { $contact }! Surveys and check-ins are switched on again. Write STOP whenever you'd like them to stop.

## WhatsApp: touches in WhatsApp's own wording (no buttons to tap for a 0-10 scale)

wa-nps =
    Hi { $contact }, one quick question: on a scale from 0 to 10, how likely are you to recommend us to a colleague?
    Just reply with a number from 0 to 10, it takes a second.

## WhatsApp: notices to the CS team

wa-template-missing =
    WhatsApp lets us write to a client who has been quiet for more than 24 hours only with a template Meta has approved, and there is none for the message "{ $template_key }". Those messages are being skipped.
    Register a template called { $template } with Meta (`touchbot whatsapp templates` prints its text, buttons and category), and once it is approved add a [whatsapp.templates.{ $template_key }] section to the configuration.
