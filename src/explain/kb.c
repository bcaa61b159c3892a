/*
 * kb - the knowledge base of SMTP reply codes, as data.
 *
 * Three tables, in this order: basic reply codes (replies[]), enhanced
 * status codes (escs[]) and hints keyed on reply texts of real servers
 * (hints[]). To add a code, add an entry with every field filled in;
 * tests/unit/test_kb.c checks that nothing is empty, that summaries fit
 * on one line and that every reply ternd can send is explained here.
 *
 * Wording rules: plain words, no jargon without a gloss; "sender" is the
 * person or program that sent the mail, "receiving administrator" runs
 * the server that answered. Whether a failure is transient or permanent
 * is never written into an entry: it comes from the first digit or the
 * class, and kb_describe() says it. Digit meanings follow RFC 5321 4.2.1
 * exactly (the popular tables get the second digit wrong, and SMTP has
 * no 1xx replies).
 *
 * Below the tables: lookups (exact, then X.Y.Z -> X.Y.0 -> class), the
 * choice between basic and enhanced code, and the text builders. No I/O.
 */
#include "kb.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "../lib/util.h"

static const struct kb_reply replies[] = {
	{
		.code = 211,
		.title = "System status, or system help reply",
		.summary = "System status or help information",
		.meaning = "The server answers a request for status or help.",
		.causes = "A HELP or similar informational command was sent.",
		.sender = "Nothing to do; this is information, not an error.",
		.admin = "Nothing to check.",
		.ref = "RFC 5321 4.2.3",
	},
	{
		.code = 214,
		.title = "Help message",
		.summary = "Help text for a human reader",
		.meaning = "The server answers HELP with text meant for a "
		    "person "
		    "reading the dialogue.",
		.causes = "A HELP command was sent.",
		.sender = "Nothing to do; this is information, not an error.",
		.admin = "Nothing to check.",
		.ref = "RFC 5321 4.2.3",
	},
	{
		.code = 220,
		.title = "<domain> Service ready",
		.summary = "The server is ready to talk",
		.meaning = "The greeting: the server accepts the connection "
		    "and "
		    "waits for EHLO. Also the reply to STARTTLS that lets the "
		    "TLS handshake begin.",
		.causes = "A client connected, or asked for STARTTLS.",
		.sender = "Nothing to do; the dialogue goes on.",
		.admin = "Nothing to check. The first word after 220 should be "
		    "the server's own host name.",
		.ref = "RFC 5321 4.2.3, 4.3.1; RFC 3207",
		.flags = KB_F_PREFER,
	},
	{
		.code = 221,
		.title = "<domain> Service closing transmission channel",
		.summary = "The server says goodbye and closes the connection",
		.meaning = "The normal end of a session, after QUIT.",
		.causes = "The client sent QUIT.",
		.sender = "Nothing to do.",
		.admin = "Nothing to check.",
		.ref = "RFC 5321 4.2.3",
		.flags = KB_F_PREFER,
	},
	{
		.code = 235,
		.title = "Authentication successful",
		.summary = "Login accepted",
		.meaning = "The user name and password (or other credentials) "
		    "given with AUTH were accepted.",
		.causes = "A successful AUTH command.",
		.sender = "Nothing to do; the client may now send mail as this "
		    "user.",
		.admin = "Nothing to check.",
		.ref = "RFC 4954 6",
		.flags = KB_F_PREFER | KB_F_EXTENSION,
	},
	{
		.code = 250,
		.title = "Requested mail action okay, completed",
		.summary = "Accepted: the command succeeded",
		.meaning = "The command worked. After the end of the message "
		    "data it means the receiving server has taken "
		    "responsibility for the mail: it has stored it and will "
		    "deliver it or send a bounce.",
		.causes = "The command was valid and allowed.",
		.sender = "Nothing to do. If the mail still never arrives, ask "
		    "the recipient to look in the spam folder, and ask the "
		    "receiving server's administrator about the queue id "
		    "quoted in the reply.",
		.admin = "Nothing to check, unless a message accepted with 250 "
		    "went missing: then search the logs for its queue id.",
		.ref = "RFC 5321 4.2.3",
	},
	{
		.code = 251,
		.title = "User not local; will forward to <forward-path>",
		.summary = "Accepted; the server will forward it to another "
		    "address",
		.meaning = "The recipient is not on this server, but the "
		    "server "
		    "knows the new address and forwards the mail there.",
		.causes = "The recipient moved and left a forwarding address.",
		.sender = "Nothing to do now; update your address book if the "
		    "recipient confirms the new address. Do not trust the new "
		    "address blindly: the reply can be forged.",
		.admin = "Nothing to check. Many servers never send 251 "
		    "because "
		    "it reveals addresses.",
		.ref = "RFC 5321 3.4, 4.2.3",
	},
	{
		.code = 252,
		.title = "Cannot VRFY user, but will accept message and "
		    "attempt "
		    "delivery",
		.summary = "Address not verified, but mail to it will be "
		    "accepted",
		.meaning = "VRFY is turned off (as on most servers, to stop "
		    "address harvesting); the server neither confirms nor "
		    "denies the address.",
		.causes = "A VRFY command on a server that does not verify "
		    "addresses.",
		.sender = "Nothing to do; send the mail and see whether it is "
		    "accepted.",
		.admin = "Nothing to check; this is the correct reply for a "
		    "server that does not verify addresses.",
		.ref = "RFC 5321 3.5.3, 7.3",
		.flags = KB_F_PREFER,
	},
	{
		.code = 334,
		.title = "Server challenge (AUTH)",
		.summary = "Authentication in progress: the server waits for "
		    "the "
		    "next credential",
		.meaning = "During AUTH, the server sends a base64 challenge "
		    "(for "
		    "LOGIN: \"Username:\" or \"Password:\") and waits for the "
		    "client's answer.",
		.causes = "An AUTH command that needs more than one step.",
		.sender = "Nothing to do; the mail program answers by itself.",
		.admin = "Nothing to check.",
		.ref = "RFC 4954 4",
		.flags = KB_F_PREFER | KB_F_EXTENSION,
	},
	{
		.code = 354,
		.title = "Start mail input; end with <CRLF>.<CRLF>",
		.summary = "The server waits for the message itself",
		.meaning = "DATA was accepted; the client now sends the "
		    "message, "
		    "ended by a line holding only a dot.",
		.causes = "A DATA command after at least one accepted "
		    "recipient.",
		.sender = "Nothing to do; the mail program sends the message.",
		.admin = "Nothing to check.",
		.ref = "RFC 5321 4.2.3",
		.flags = KB_F_PREFER,
	},
	{
		.code = 421,
		.title = "<domain> Service not available, closing transmission "
		    "channel",
		.summary = "The server is unavailable right now and closed the "
		    "connection; try later",
		.meaning = "The server cannot serve this session now and hangs "
		    "up. It may say this at the greeting or in reply to any "
		    "command.",
		.causes = "The server is shutting down or overloaded, has too "
		    "many connections (from you), timed out waiting for you, "
		    "or limits your sending rate.",
		.sender = "Nothing to do at once: a mail server retries later "
		    "by "
		    "itself. If it keeps happening for hours, you may be "
		    "sending too fast or be rate-limited.",
		.admin = "Check the server's load, connection limits and rate "
		    "limits, and whether it is being restarted.",
		.ref = "RFC 5321 3.8, 4.2.3",
	},
	{
		.code = 432,
		.title = "A password transition is needed",
		.summary = "The password must be changed or converted before "
		    "logging in",
		.meaning = "The account must move to a new authentication "
		    "mechanism (often: log in once with PLAIN over TLS so the "
		    "server can convert the password).",
		.causes = "The server changed how it stores passwords.",
		.sender = "Log in once the way your provider tells you, "
		    "usually "
		    "with PLAIN over an encrypted connection.",
		.admin = "Check the authentication backend's migration "
		    "settings.",
		.ref = "RFC 4954 6",
		.flags = KB_F_PREFER | KB_F_EXTENSION,
	},
	{
		.code = 450,
		.title = "Requested mail action not taken: mailbox unavailable "
		    "(e.g., mailbox busy or temporarily blocked for policy "
		    "reasons)",
		.summary = "Mailbox unavailable for now (busy, or a temporary "
		    "block such as greylisting)",
		.meaning = "The server will not take the mail for this mailbox "
		    "right now but may later. This is how greylisting and "
		    "temporary policy blocks answer.",
		.causes = "Greylisting (the first mail from a new sender is "
		    "deferred on purpose), a busy or locked mailbox, a "
		    "temporary DNS failure checking the sender, or a rate "
		    "limit.",
		.sender = "Nothing to do: the sending server retries, and "
		    "greylisted mail normally goes through within an hour.",
		.admin = "Check greylisting and policy logs, and whether DNS "
		    "lookups of the sender's domain fail.",
		.ref = "RFC 5321 4.2.2",
	},
	{
		.code = 451,
		.title = "Requested action aborted: local error in processing",
		.summary = "The server had an internal problem; try again "
		    "later",
		.meaning = "Something went wrong on the receiving server while "
		    "handling the command; the mail was not accepted, but a "
		    "later try may work.",
		.causes = "A failed lookup (database, LDAP, DNS), a content "
		    "filter that is down, a disk or queue write error, or a "
		    "temporary anti-spam decision.",
		.sender = "Nothing to do at once: the sending server retries. "
		    "If it lasts for days, tell the recipient by another way.",
		.admin = "Check the server's logs at the time of the error: "
		    "lookup tables, filters (milters, content scanners), disk "
		    "and permissions.",
		.ref = "RFC 5321 4.2.2",
	},
	{
		.code = 452,
		.title = "Requested action not taken: insufficient system "
		    "storage",
		.summary = "Not now: the server is out of space, or too many "
		    "recipients",
		.meaning = "The server cannot take this now: its disk is full, "
		    "or (in reply to RCPT) this message already has as many "
		    "recipients as it takes at once.",
		.causes = "A full disk or mail queue, a mailbox over quota, or "
		    "more recipients than the server's per-message limit.",
		.sender = "Nothing to do: the sending server retries, and "
		    "sends "
		    "the remaining recipients in a further message.",
		.admin = "Check free disk space on the queue and mailbox file "
		    "systems, quotas, and the recipient limit.",
		.ref = "RFC 5321 4.2.2, 4.5.3.1.10",
	},
	{
		.code = 454,
		.title = "Temporary authentication failure / TLS not available "
		    "due to temporary reason",
		.summary = "Login or TLS is temporarily impossible on this "
		    "server",
		.meaning = "The server could not check credentials, or could "
		    "not "
		    "start TLS, because of a problem on its side.",
		.causes = "The password database or authentication service is "
		    "down, or the server's TLS certificate or key cannot be "
		    "loaded.",
		.sender = "Try again later. If it persists, tell the server's "
		    "administrator.",
		.admin = "Check the authentication backend and the TLS "
		    "certificate, key and their permissions.",
		.ref = "RFC 4954 6; RFC 3207 4",
		.flags = KB_F_PREFER | KB_F_EXTENSION,
	},
	{
		.code = 455,
		.title = "Server unable to accommodate parameters",
		.summary = "The server cannot honour a MAIL or RCPT parameter "
		    "right now",
		.meaning = "A parameter given with MAIL FROM or RCPT TO is "
		    "known "
		    "but cannot be honoured at the moment.",
		.causes = "A temporary resource problem linked to a parameter, "
		    "such as a requested size or priority.",
		.sender = "Nothing to do: the sending server retries.",
		.admin = "Check the logs for the parameter that was refused.",
		.ref = "RFC 5321 4.2.2",
		.flags = KB_F_PREFER,
	},
	{
		.code = 500,
		.title = "Syntax error, command unrecognized",
		.summary = "The server did not understand the command (or the "
		    "line was too long)",
		.meaning = "The command is unknown to the server, or the "
		    "command "
		    "line was longer than allowed.",
		.causes = "A typo in a hand-typed command, a client speaking "
		    "another protocol (for example TLS on a plain-text port), "
		    "or a broken or non-standard client.",
		.sender = "Check that your mail program uses the right port "
		    "and "
		    "encryption setting (STARTTLS on 587 or 25, TLS on 465).",
		.admin = "Check the logs for the exact line received; it shows "
		    "what the client sent.",
		.ref = "RFC 5321 4.2.3, 4.3.2",
	},
	{
		.code = 501,
		.title = "Syntax error in parameters or arguments",
		.summary = "The command was understood but its arguments are "
		    "malformed",
		.meaning = "The command is known, but what follows it is not "
		    "valid: for example an address without angle brackets or a "
		    "bad parameter.",
		.causes = "A malformed address, a bad EHLO name, a bad "
		    "parameter value, or arguments where none are allowed.",
		.sender = "Check the addresses for typos and stray characters; "
		    "if you wrote the mail program, check what it sends.",
		.admin = "Check the logs for the exact command line received.",
		.ref = "RFC 5321 4.2.3",
	},
	{
		.code = 502,
		.title = "Command not implemented",
		.summary = "The server knows this command but does not offer "
		    "it",
		.meaning = "The command exists in SMTP but this server does "
		    "not "
		    "provide it (it may be turned off).",
		.causes = "A command such as EXPN, TURN or STARTTLS that is "
		    "disabled here.",
		.sender = "Use a client setting that does not need this "
		    "command.",
		.admin = "Nothing to check unless you meant to offer the "
		    "command.",
		.ref = "RFC 5321 4.2.3, 4.2.4",
		.flags = KB_F_PREFER,
	},
	{
		.code = 503,
		.title = "Bad sequence of commands",
		.summary = "Commands were sent in the wrong order",
		.meaning = "The command is valid but not at this point of the "
		    "dialogue (for example RCPT before MAIL, or DATA with no "
		    "accepted recipient). This is not a syntax error.",
		.causes = "A client bug, an earlier command that failed and "
		    "was "
		    "ignored, or (with some servers) a missing login.",
		.sender = "Look at the earlier replies in the dialogue: "
		    "usually "
		    "an earlier command failed. Check the client's settings "
		    "(port, login).",
		.admin = "Check the full session log for the command that "
		    "failed first.",
		.ref = "RFC 5321 4.2.3",
		.flags = KB_F_PREFER,
	},
	{
		.code = 504,
		.title = "Command parameter not implemented",
		.summary = "The server does not support a parameter of this "
		    "command",
		.meaning = "The command is fine, but one of its parameters "
		    "(such "
		    "as an AUTH mechanism or a HELP topic) is not supported.",
		.causes = "An unsupported AUTH mechanism, an unknown HELP "
		    "topic, "
		    "or a policy on the form of a name.",
		.sender = "Choose another authentication method in the mail "
		    "program (PLAIN or LOGIN over TLS usually work).",
		.admin = "Check which AUTH mechanisms the server advertises.",
		.ref = "RFC 5321 4.2.3; RFC 4954 4",
		.flags = KB_F_PREFER,
	},
	{
		.code = 521,
		.title = "Host does not accept mail",
		.summary = "Refused: this server takes no mail (from this client, "
		    "or at all) and hangs up",
		.meaning = "The host never accepts mail, or refuses this "
		    "client "
		    "outright; it may hang up at once.",
		.causes = "A host that is not a mail server, a domain that "
		    "receives no mail, or a client that broke protocol (talked "
		    "before the greeting).",
		.sender = "Check the recipient's address: the domain may not "
		    "receive mail. Contact the recipient another way.",
		.admin = "Check the MX records: they should not point at a "
		    "host "
		    "that refuses mail.",
		.ref = "RFC 7504",
		.flags = KB_F_PREFER | KB_F_EXTENSION,
	},
	{
		.code = 530,
		.title = "Authentication required / Must issue a STARTTLS "
		    "command first",
		.summary = "Log in (or start TLS) before sending",
		.meaning = "This server only takes mail from clients that have "
		    "logged in with AUTH, or that encrypt with STARTTLS first.",
		.causes = "The mail program is not set to log in, or to use "
		    "encryption, on a submission server.",
		.sender = "Turn on authentication (user name and password) and "
		    "STARTTLS in the mail program's outgoing server settings.",
		.admin = "Nothing to check if the server is a submission "
		    "server; "
		    "a public MX must not require login.",
		.ref = "RFC 4954 6; RFC 3207 4",
		.flags = KB_F_PREFER | KB_F_EXTENSION,
	},
	{
		.code = 534,
		.title = "Authentication mechanism is too weak",
		.summary = "The login method is too weak for this account",
		.meaning = "The server wants a stronger authentication "
		    "mechanism "
		    "than the one tried. Some providers also send 534 to "
		    "refuse password logins from \"less secure\" apps.",
		.causes = "A weak mechanism, or a provider that requires an "
		    "app "
		    "password or OAuth.",
		.sender = "Use another mechanism, or create an app password in "
		    "the provider's account settings.",
		.admin = "Check which mechanisms are allowed for this account.",
		.ref = "RFC 4954 6",
		.flags = KB_F_PREFER | KB_F_EXTENSION,
	},
	{
		.code = 535,
		.title = "Authentication credentials invalid",
		.summary = "Login failed: wrong user name or password",
		.meaning = "The credentials given with AUTH were refused.",
		.causes = "A wrong user name or password, a password that "
		    "changed, or a locked account.",
		.sender = "Check the user name (often the full address) and "
		    "the "
		    "password in the mail program.",
		.admin = "Check the authentication log for the reason, and "
		    "whether the account is locked.",
		.ref = "RFC 4954 6",
		.flags = KB_F_PREFER | KB_F_EXTENSION,
	},
	{
		.code = 538,
		.title = "Encryption required for requested authentication "
		    "mechanism",
		.summary = "This login method needs an encrypted connection",
		.meaning = "The password would travel in clear text, so the "
		    "server refuses; start TLS first.",
		.causes = "The mail program logs in without STARTTLS or TLS.",
		.sender = "Turn on STARTTLS (port 587) or TLS (port 465) in "
		    "the "
		    "mail program.",
		.admin = "Better not to advertise AUTH before TLS at all.",
		.ref = "RFC 4954 6",
		.flags = KB_F_PREFER | KB_F_EXTENSION,
	},
	{
		.code = 550,
		.title = "Requested action not taken: mailbox unavailable "
		    "(e.g., "
		    "mailbox not found, no access, or command rejected for "
		    "policy reasons)",
		.summary = "Refused: no such mailbox, or refused by the "
		    "server's "
		    "policy",
		.meaning = "The server will not take the mail for this "
		    "mailbox. "
		    "It is about this recipient or this message, not about the "
		    "server being broken: either the mailbox is not there or "
		    "policy forbids the mail.",
		.causes = "A mistyped or closed address, relaying refused, a "
		    "blocklisted sending server, or failed SPF/DKIM/DMARC "
		    "checks. The enhanced code and text say which.",
		.sender = "Read the text and enhanced code: check the address "
		    "for typos; if it is a policy block, contact the "
		    "recipient another way.",
		.admin = "Check the recipient tables and the policy or "
		    "anti-spam logs for the reason.",
		.ref = "RFC 5321 4.2.3",
	},
	{
		.code = 551,
		.title = "User not local; please try <forward-path>",
		.summary = "The recipient is not here; the server names "
		    "another "
		    "address",
		.meaning = "The mailbox is not on this server; the reply may "
		    "say "
		    "where the person can be reached. The mail was not "
		    "accepted.",
		.causes = "The recipient moved to another address.",
		.sender = "Ask the recipient for the new address and resend. "
		    "Do "
		    "not trust the address in the reply blindly.",
		.admin = "Check relocation tables, if any.",
		.ref = "RFC 5321 3.4, 4.2.3",
	},
	{
		.code = 552,
		.title = "Requested mail action aborted: exceeded storage "
		    "allocation",
		.summary = "Too big: the message exceeds a size limit, or the "
		    "mailbox is full",
		.meaning = "The message is larger than the server or mailbox "
		    "accepts (RFC 1870), or the mailbox has no room left. In "
		    "reply to RCPT, clients treat it as temporary (RFC 5321 "
		    "4.5.3.1.10).",
		.causes = "Large attachments, or a recipient who never empties "
		    "the mailbox.",
		.sender = "Send smaller attachments (or a link to a shared "
		    "file), or tell the recipient that the mailbox is full.",
		.admin = "Check the message size limit and the mailbox quota.",
		.ref = "RFC 5321 4.2.3; RFC 1870",
	},
	{
		.code = 553,
		.title = "Requested action not taken: mailbox name not allowed "
		    "(e.g., mailbox syntax incorrect)",
		.summary = "The address is not allowed or malformed",
		.meaning = "The address given in MAIL FROM or RCPT TO is not "
		    "accepted as written, or the sender may not use it.",
		.causes = "A malformed address, non-ASCII characters without "
		    "SMTPUTF8, or a sender address the logged-in user does "
		    "not own.",
		.sender = "Check the address for typos; send from the address "
		    "that belongs to your account.",
		.admin = "Check address rewriting and sender ownership rules.",
		.ref = "RFC 5321 4.2.3",
	},
	{
		.code = 554,
		.title = "Transaction failed (or, at connection opening, \"No "
		    "SMTP service here\")",
		.summary = "Refused: the transaction failed (often a policy or "
		    "spam block)",
		.meaning = "The server refuses the transaction. As the "
		    "greeting "
		    "it means the server will not talk to this client at all. "
		    "After the message data it means the message was refused "
		    "as a whole.",
		.causes = "A blocklisted sending server, content judged as "
		    "spam "
		    "or virus, relaying refused, or no valid recipient.",
		.sender = "Read the text: it usually names the blocklist or "
		    "policy. Contact the recipient another way; the sending "
		    "server's administrator may need to request delisting.",
		.admin = "Check the anti-spam, blocklist and content filter "
		    "logs.",
		.ref = "RFC 5321 3.1, 4.2.3",
	},
	{
		.code = 555,
		.title = "MAIL FROM/RCPT TO parameters not recognized or not "
		    "implemented",
		.summary = "The server does not support a MAIL or RCPT "
		    "parameter",
		.meaning = "A parameter such as SIZE=, BODY= or NOTIFY= given "
		    "with MAIL FROM or RCPT TO is not known to this server.",
		.causes = "The client used an extension the server did not "
		    "advertise in its EHLO reply.",
		.sender = "The mail program should only use what the server "
		    "advertises; update it or turn the option off.",
		.admin = "Nothing to check, unless you meant to offer the "
		    "extension.",
		.ref = "RFC 5321 4.2.3",
		.flags = KB_F_PREFER,
	},
	{
		.code = 556,
		.title = "Domain does not accept mail",
		.summary = "The recipient's domain does not accept mail",
		.meaning = "The recipient's domain says (with a null MX "
		    "record) "
		    "that it never receives mail.",
		.causes = "A mistyped domain, or a domain used only for a web "
		    "site or for sending.",
		.sender = "Check the domain for typos; reach the person "
		    "another "
		    "way.",
		.admin = "Check the domain's MX record if it should receive "
		    "mail.",
		.ref = "RFC 7504; RFC 7505",
		.flags = KB_F_PREFER | KB_F_EXTENSION,
	},
	/* not defined by any RFC, but seen in the wild */
	{
		.code = 422,
		.title = "(non-standard) Recipient mailbox over quota",
		.summary = "Non-standard code, used for a full mailbox; "
		    "treated "
		    "as temporary",
		.meaning = "Not an RFC 5321 code; the IANA registry lists it "
		    "beside some enhanced codes. Clients act on the first "
		    "digit: temporary.",
		.causes = "The recipient's mailbox is full, or another "
		    "temporary "
		    "condition named in the text.",
		.sender = "Nothing to do at once: it is retried.",
		.admin = "Use 452 instead.",
		.ref = "IANA enhanced status code registry",
		.flags = KB_F_NONSTD,
	},
	{
		.code = 435,
		.title = "(non-standard) Unable to authenticate at present",
		.summary = "Non-standard code: login is temporarily impossible",
		.meaning = "Sent by Exim when authentication fails for a "
		    "temporary reason; the standard code is 454.",
		.causes = "The authentication backend is unavailable.",
		.sender = "Try again later.",
		.admin = "Check the authentication backend; prefer 454.",
		.ref = "Exim",
		.flags = KB_F_NONSTD,
	},
	{
		.code = 523,
		.title = "(non-standard) Encryption needed",
		.summary = "Non-standard code: encryption (TLS) is needed",
		.meaning = "Listed in the IANA registry beside X.7.10 "
		    "\"Encryption needed\" but not defined by RFC 5321; some "
		    "servers also use it for a too-big message.",
		.causes = "The client did not start TLS, or the text names "
		    "another reason.",
		.sender = "Turn on STARTTLS or TLS in the mail program.",
		.admin = "Use 530 or 538 instead.",
		.ref = "IANA enhanced status code registry",
		.flags = KB_F_NONSTD,
	},
	{
		.code = 524,
		.title = "(non-standard) Mailing list expansion problem",
		.summary = "Non-standard code, used for a mailing list or "
		    "alias "
		    "problem",
		.meaning = "Sent by OpenSMTPD when an alias or list cannot be "
		    "expanded; the standard code is 550.",
		.causes = "An alias that loops or expands to nothing.",
		.sender = "Tell the list or alias owner by another way.",
		.admin = "Check the alias definitions; prefer 550.",
		.ref = "OpenSMTPD",
		.flags = KB_F_NONSTD,
	},
	{
		.code = 525,
		.title = "(non-standard) User account disabled",
		.summary = "Non-standard code: the account is disabled",
		.meaning = "Listed in the IANA registry beside X.7.13 \"User "
		    "account disabled\" but not an RFC 5321 code.",
		.causes = "The account was disabled by its provider.",
		.sender = "Contact the provider of the account.",
		.admin = "Use 535 or 550 with 5.7.13 instead.",
		.ref = "IANA enhanced status code registry",
		.flags = KB_F_NONSTD,
	},
	{
		.code = 571,
		.title = "(non-standard) Delivery not authorized",
		.summary = "Non-standard code: refused by policy",
		.meaning = "Sent by old Microsoft servers for \"delivery not "
		    "authorized, message refused\"; the standard form is "
		    "550 5.7.1.",
		.causes = "Relaying refused, or the sender is not allowed to "
		    "write to this recipient.",
		.sender = "Contact the recipient another way.",
		.admin = "Check the relay and recipient restrictions.",
		.ref = "Microsoft Exchange",
		.flags = KB_F_NONSTD,
	},
};

static const struct kb_esc escs[] = {
	{
		0, 0, "Other undefined Status",
		"Unspecified status; the code itself says only whether it "
		"failed",
		"The server gives no detail beyond success, temporary or "
		"permanent failure.",
		"Any condition the server did not classify.",
		"Read the reply text, which usually says more.",
		"Check the server's log for the event.",
		"RFC 3463 3.1",
	},
	{
		1, 0, "Other address status",
		"A problem with an address (sender or recipient)",
		"Something about an address in the envelope caused this.",
		"A wrong, unknown or refused address.",
		"Check the sender and recipient addresses for typos.",
		"Check the address tables and rewriting rules.",
		"RFC 3463 3.2",
	},
	{
		1, 1, "Bad destination mailbox address",
		"The recipient's mailbox does not exist",
		"The part before the @ is unknown at the recipient's domain: "
		"there is no such user or mailbox.",
		"A typo in the address, a person who left the organisation, "
		"or an address that was closed.",
		"Check the address for typos and ask the person for their "
		"current address. Do not resend unchanged.",
		"Check that the user exists in the recipient tables or "
		"directory (and aliases).",
		"RFC 3463 3.2",
	},
	{
		1, 2, "Bad destination system address",
		"The recipient's domain does not exist or cannot receive mail",
		"The part after the @ names no mail system: the domain does "
		"not exist or has no usable mail server.",
		"A typo in the domain, an expired domain, or broken DNS.",
		"Check the domain part of the address for typos.",
		"Check the domain's DNS records (MX, A/AAAA).",
		"RFC 3463 3.2",
	},
	{
		1, 3, "Bad destination mailbox address syntax",
		"The recipient address is malformed",
		"The recipient address is not a valid address.",
		"Spaces, missing @, a doubled dot, or stray characters.",
		"Correct the address.",
		"Nothing to check, unless valid addresses are refused.",
		"RFC 3463 3.2",
	},
	{
		1, 4, "Destination mailbox address ambiguous",
		"The recipient address matches several mailboxes",
		"The address fits more than one recipient on the destination "
		"system.",
		"A partial name or an alias that resolves to several users.",
		"Use the person's full, exact address.",
		"Check the directory for duplicate entries.",
		"RFC 3463 3.2",
	},
	{
		1, 5, "Destination address valid",
		"The recipient address is valid",
		"The recipient address was accepted.",
		"A normal RCPT TO.",
		"Nothing to do.",
		"Nothing to check.",
		"RFC 3463 3.2",
	},
	{
		1, 6, "Destination mailbox has moved, No forwarding address",
		"The mailbox has moved and no new address is known",
		"The address used to work but is no longer in use, and the "
		"server has no forwarding address.",
		"The person changed jobs, providers or name.",
		"Ask the person for their new address.",
		"Check relocation tables, if any.",
		"RFC 3463 3.2",
	},
	{
		1, 7, "Bad sender's mailbox address syntax",
		"The sender address is malformed",
		"The address in MAIL FROM (the return path) is not valid.",
		"A misconfigured mail program or script, an empty or "
		    "local-only "
		"sender address.",
		"Set a full, valid sender address in the mail program.",
		"Check what the client sent in MAIL FROM.",
		"RFC 3463 3.2",
	},
	{
		1, 8, "Bad sender's system address",
		"The sender's domain does not exist or cannot get replies",
		"The domain of the sender address does not exist or cannot "
		"receive mail, so bounces could not be returned.",
		"A made-up or local-only sender domain (like example.local), "
		"or broken DNS for the sender's domain.",
		"Send from an address with a real, public domain.",
		"Check DNS for the sender's domain.",
		"RFC 3463 3.2",
	},
	{
		1, 9, "Message relayed to non-compliant mailer",
		"Passed to a system that cannot report delivery status",
		"The message was handed to a system that does not support "
		"delivery status notifications; no further report will come.",
		"Relaying to an old or non-SMTP system.",
		"Nothing to do.",
		"Nothing to check.",
		"RFC 3886",
	},
	{
		1, 10, "Recipient address has null MX",
		"The recipient's domain does not accept mail (null MX)",
		"The recipient's domain publishes a null MX record: it says it "
		"never receives mail.",
		"A typo in the domain, or a domain that only sends mail.",
		"Check the domain for typos; reach the person another way.",
		"Check the domain's MX record if it should receive mail.",
		"RFC 7505",
	},
	{
		2, 0, "Other or undefined mailbox status",
		"A problem with the recipient's mailbox",
		"The mailbox exists, but something about it caused this.",
		"A mailbox state the server did not classify.",
		"Read the reply text for details.",
		"Check the mailbox and delivery agent logs.",
		"RFC 3463 3.3",
	},
	{
		2, 1, "Mailbox disabled, not accepting messages",
		"The recipient's mailbox is disabled",
		"The mailbox exists but does not take mail (closed, suspended "
		"or inactive account).",
		"An account closed or suspended, often after a long time "
		"unused.",
		"Reach the person another way and ask for a working address.",
		"Check the account's status.",
		"RFC 3463 3.3",
	},
	{
		2, 2, "Mailbox full",
		"The recipient's mailbox is full",
		"The mailbox has used up its storage quota.",
		"The recipient has not deleted old mail.",
		"Tell the recipient another way; resend once they have made "
		"room.",
		"Check the user's quota and usage.",
		"RFC 3463 3.3",
	},
	{
		2, 3, "Message length exceeds administrative limit",
		"The message is too big for this mailbox",
		"The message is larger than this recipient may receive.",
		"Large attachments.",
		"Send smaller attachments or a link to a shared file.",
		"Check the per-user message size limit.",
		"RFC 3463 3.3",
	},
	{
		2, 4, "Mailing list expansion problem",
		"A mailing list or alias could not be expanded",
		"The recipient is a list or alias whose members could not be "
		"worked out.",
		"An empty or looping alias, or a list server problem.",
		"Tell the list owner by another way.",
		"Check the alias or list definition.",
		"RFC 3463 3.3",
	},
	{
		3, 0, "Other or undefined mail system status",
		"A problem with the receiving mail system",
		"The destination system normally accepts mail, but something "
		"on it prevented this.",
		"A local error on the receiving server.",
		"Read the reply text for details.",
		"Check the server's logs.",
		"RFC 3463 3.4",
	},
	{
		3, 1, "Mail system full",
		"The receiving server is out of storage",
		"The mail system's disk or queue is full.",
		"A full disk or queue on the receiving server.",
		"Nothing to do if temporary: it is retried.",
		"Free disk space on the queue and mail store.",
		"RFC 3463 3.4",
	},
	{
		3, 2, "System not accepting network messages",
		"The receiving server is not accepting mail now",
		"The host does not take mail at the moment (shutting down, "
		"overloaded, maintenance), or never does.",
		"Maintenance, a restart, overload, or a host that is not a "
		"mail server.",
		"Nothing to do if temporary; if permanent, check the address.",
		"Check that the server is up and not overloaded.",
		"RFC 3463 3.4",
	},
	{
		3, 3, "System not capable of selected features",
		"The receiving server lacks a feature the message needs",
		"The message asks for a feature the destination does not "
		"support.",
		"A feature such as 8-bit or binary transport, or DSN.",
		"Send without the feature (for example as plain text).",
		"Check which extensions the server offers.",
		"RFC 3463 3.4",
	},
	{
		3, 4, "Message too big for system",
		"The message is bigger than the server accepts",
		"The message exceeds the server's fixed size limit.",
		"Large attachments.",
		"Send smaller attachments or a link to a shared file.",
		"Check the server's message size limit.",
		"RFC 3463 3.4",
	},
	{
		3, 5, "System incorrectly configured",
		"The receiving server is misconfigured",
		"A configuration error on the destination prevents delivery.",
		"Wrong routing, missing tables or a bad setting on the "
		"receiving side.",
		"Tell the recipient's administrator; nothing to fix on your "
		"side.",
		"Check the configuration and logs.",
		"RFC 3463 3.4",
	},
	{
		3, 6, "Requested priority was changed",
		"Accepted, but with a different priority than requested",
		"The message was accepted, but the server changed its "
		"requested priority.",
		"The sender may not use the requested priority.",
		"Nothing to do.",
		"Nothing to check.",
		"RFC 6710",
	},
	{
		4, 0, "Other or undefined network or routing status",
		"A network or routing problem",
		"Something in the network or in routing prevented delivery.",
		"Network trouble between the servers.",
		"Nothing to do if temporary: it is retried.",
		"Check network connectivity and routing.",
		"RFC 3463 3.5",
	},
	{
		4, 1, "No answer from host",
		"The receiving server did not answer",
		"The sending server could not connect: no answer, connection "
		"refused or timed out.",
		"The receiving server is down, or a firewall blocks port 25.",
		"Nothing to do at once: it is retried.",
		"Check that the server listens on port 25 and the firewall "
		"lets connections in.",
		"RFC 3463 3.5",
	},
	{
		4, 2, "Bad connection",
		"The connection was broken or timed out during delivery",
		"The connection was made but broke, or took too long, before "
		"the mail was accepted.",
		"Network trouble, a timeout, or a server that hangs up.",
		"Nothing to do at once: it is retried.",
		"Check for timeouts and network problems in the logs.",
		"RFC 3463 3.5",
	},
	{
		4, 3, "Directory server failure",
		"A directory lookup (often DNS) failed",
		"A directory server needed for delivery, such as DNS or LDAP, "
		"could not be reached.",
		"DNS server problems, or LDAP or database outage.",
		"Nothing to do at once: it is retried.",
		"Check the DNS resolver and directory servers.",
		"RFC 3463 3.5",
	},
	{
		4, 4, "Unable to route",
		"No route to the recipient's mail server was found",
		"The mail system could not work out where to send the "
		"message, usually because the domain has no usable MX or "
		"address records.",
		"DNS records missing or wrong for the recipient's domain.",
		"Check the domain for typos.",
		"Check the domain's MX and A/AAAA records.",
		"RFC 3463 3.5",
	},
	{
		4, 5, "Mail system congestion",
		"The mail system is congested; try later",
		"The mail system is too busy to take the message now.",
		"Overload, or rate limiting.",
		"Nothing to do at once: it is retried.",
		"Check the load and rate limits.",
		"RFC 3463 3.5",
	},
	{
		4, 6, "Routing loop detected",
		"The message went round in a loop",
		"The message was forwarded too many times; a mail loop is "
		"likely.",
		"Forwarding between two addresses that forward to each other, "
		"or a wrong MX.",
		"Tell the recipient; check your own forwarding rules.",
		"Check forwarding, aliases and MX records for loops.",
		"RFC 3463 3.5",
	},
	{
		4, 7, "Delivery time expired",
		"Delivery gave up after retrying for too long",
		"The message could not be delivered within the time allowed "
		"and was given up.",
		"The receiving server was unreachable or kept deferring for "
		"days.",
		"Check the address; try again later, or reach the recipient "
		"another way.",
		"Check why earlier attempts were deferred.",
		"RFC 3463 3.5",
	},
	{
		5, 0, "Other or undefined protocol status",
		"An SMTP protocol problem",
		"Something went wrong in the SMTP dialogue itself.",
		"A client or server that does not follow the protocol.",
		"Check the mail program's settings and version.",
		"Check the session log.",
		"RFC 3463 3.6",
	},
	{
		5, 1, "Invalid command",
		"The command is not valid here or not supported",
		"The command was sent out of order or is not supported.",
		"A client bug, or a command that depends on an earlier one "
		"that failed.",
		"Check the earlier replies and the client's settings.",
		"Check the session log.",
		"RFC 3463 3.6",
	},
	{
		5, 2, "Syntax error",
		"Syntax error: the command could not be understood",
		"The command could not be interpreted.",
		"A malformed command line, a bad line ending, or another "
		"protocol on the port.",
		"Check the port and encryption settings of the mail program.",
		"Check the logged command line.",
		"RFC 3463 3.6",
	},
	{
		5, 3, "Too many recipients",
		"Too many recipients for one message",
		"The message has more recipients than the server takes at "
		"once.",
		"A large recipient list.",
		"Split the recipient list; a mail server does this by itself.",
		"Check the recipient limit (RFC 5321 requires at least 100).",
		"RFC 3463 3.6",
	},
	{
		5, 4, "Invalid command arguments",
		"A command's argument is invalid or not supported",
		"A command had a parameter or argument that is wrong or not "
		"supported.",
		"A bad parameter value or an unsupported option.",
		"Update the mail program or turn off the option.",
		"Check the logged command line.",
		"RFC 3463 3.6",
	},
	{
		5, 5, "Wrong protocol version",
		"Protocol version mismatch",
		"The two systems speak incompatible protocol versions.",
		"A very old or very non-standard mail program.",
		"Update the mail program.",
		"Check the client's software.",
		"RFC 3463 3.6",
	},
	{
		5, 6, "Authentication Exchange line is too long",
		"The login data was too long",
		"An AUTH response was longer than the server accepts.",
		"A very long token (for example OAuth) or a client bug.",
		"Update the mail program.",
		"Check the AUTH line length limit.",
		"RFC 4954 4",
	},
	{
		6, 0, "Other or undefined media error",
		"A problem with the message content",
		"Something about the content prevented delivery.",
		"Malformed headers or MIME structure, or content refused.",
		"Check the message, especially attachments and headers.",
		"Check the content filter log.",
		"RFC 3463 3.7",
	},
	{
		6, 1, "Media not supported",
		"The message contains a media type that is not supported",
		"The message uses content the destination does not support.",
		"An unsupported attachment or body type.",
		"Send the content in another format.",
		"Check the content rules.",
		"RFC 3463 3.7",
	},
	{
		6, 2, "Conversion required and prohibited",
		"The content needs conversion, which is not allowed",
		"Delivery needs a conversion of the content that the message "
		"forbids.",
		"8-bit or binary content to a 7-bit-only path.",
		"Send the content encoded for 7-bit transport.",
		"Check 8BITMIME support on the path.",
		"RFC 3463 3.7",
	},
	{
		6, 3, "Conversion required but not supported",
		"The content needs a conversion the server cannot do",
		"Delivery needs a conversion that is not possible here.",
		"Content that cannot be converted for the next hop.",
		"Send the content in another form.",
		"Check conversion support.",
		"RFC 3463 3.7",
	},
	{
		6, 4, "Conversion with loss performed",
		"Delivered, but the content was converted with some loss",
		"The message was delivered after a conversion that lost some "
		"data.",
		"A conversion of content for the destination.",
		"Check with the recipient that the content arrived usable.",
		"Nothing to check.",
		"RFC 3463 3.7",
	},
	{
		6, 5, "Conversion Failed",
		"A needed content conversion failed",
		"A required conversion of the content was unsuccessful.",
		"Content that could not be converted.",
		"Send the content in another form.",
		"Check the conversion tool's logs.",
		"RFC 3463 3.7",
	},
	{
		6, 6, "Message content not available",
		"The message content could not be fetched",
		"Content referenced by the message could not be retrieved.",
		"A BURL reference that failed.",
		"Send the message again from the mail program.",
		"Check the IMAP server the content was fetched from.",
		"RFC 4468",
	},
	{
		6, 7, "Non-ASCII addresses not permitted for that "
		"sender/recipient",
		"Addresses with non-ASCII characters are not allowed here",
		"An address contains non-ASCII characters, but the server or "
		"the transaction does not allow them (SMTPUTF8).",
		"An internationalised address sent without SMTPUTF8, or to a "
		"server without it.",
		"Use an ASCII address for this recipient if one exists.",
		"Check SMTPUTF8 support.",
		"RFC 6531",
	},
	{
		6, 8, "UTF-8 string reply is required, but not permitted by "
		"the SMTP client",
		"The reply would need UTF-8 that the client did not allow",
		"The server would have to answer in UTF-8, which the client "
		"did not ask for.",
		"VRFY or EXPN of an internationalised address.",
		"Use a client that supports SMTPUTF8.",
		"Nothing to check.",
		"RFC 6531",
	},
	{
		6, 9, "UTF-8 header message cannot be transferred to one or "
		"more recipients, so the message must be rejected",
		"Message with UTF-8 headers cannot reach this recipient",
		"The message has internationalised (UTF-8) headers and the "
		"path to a recipient cannot carry them.",
		"A server on the way without SMTPUTF8.",
		"Send with ASCII-only addresses and headers.",
		"Check SMTPUTF8 support on the path.",
		"RFC 6531",
	},
	{
		6, 10, "(deprecated: duplicate of X.6.9)",
		"Message with UTF-8 headers cannot reach this recipient "
		"(deprecated code)",
		"A duplicate of X.6.9, kept in the registry as deprecated.",
		"A server on the way without SMTPUTF8.",
		"Send with ASCII-only addresses and headers.",
		"Use X.6.9 instead.",
		"RFC 6531; IANA registry",
	},
	{
		7, 0, "Other or undefined security status",
		"Refused or deferred for a security or policy reason",
		"A security or policy rule applied; the text usually says "
		"which.",
		"Blocklists, rate limits, authentication requirements.",
		"Read the text for the rule, and the provider's help page if "
		"it links one.",
		"Check the policy and anti-spam logs.",
		"RFC 3463 3.8",
	},
	{
		7, 1, "Delivery not authorized, message refused",
		"Refused by the receiving server's policy",
		"The sender is not allowed to send this message to this "
		"recipient: relaying refused, sender blocked, or content "
		"refused.",
		"Relay access denied (you are not logged in to your own "
		"server), a blocklisted IP address, the recipient refuses the "
		"sender, or spam filtering.",
		"If you send through your own provider, log in (SMTP AUTH). "
		"Otherwise read the text; contact the recipient another way.",
		"Check relay rules, blocklist and spam filter logs.",
		"RFC 3463 3.8",
	},
	{
		7, 2, "Mailing list expansion prohibited",
		"You may not send to this mailing list",
		"The sender is not allowed to post to this list.",
		"Only members (or moderators) may post.",
		"Join the list or ask the list owner.",
		"Check the list's posting rules.",
		"RFC 3463 3.8",
	},
	{
		7, 3, "Security conversion required but not possible",
		"A needed security conversion is not possible",
		"The message needed a secure conversion that could not be "
		"done.",
		"Encryption or signing that the path cannot handle.",
		"Send without the security feature, or another way.",
		"Check the security gateway.",
		"RFC 3463 3.8",
	},
	{
		7, 4, "Security features not supported",
		"A requested security feature is not supported",
		"The message asks for security features the path does not "
		"support.",
		"An unsupported security or authentication feature.",
		"Use a supported method.",
		"Check which security features are offered.",
		"RFC 3463 3.8",
	},
	{
		7, 5, "Cryptographic failure",
		"A cryptographic check failed",
		"Decryption or signature checking failed, for example for a "
		"missing key.",
		"A missing or wrong key or certificate.",
		"Check your keys and certificates.",
		"Check the keys the server uses.",
		"RFC 3463 3.8",
	},
	{
		7, 6, "Cryptographic algorithm not supported",
		"A cryptographic algorithm is not supported",
		"The message uses an algorithm the destination does not "
		"support.",
		"An old or unusual encryption or signature algorithm.",
		"Use a common algorithm.",
		"Check the supported algorithms.",
		"RFC 3463 3.8",
	},
	{
		7, 7, "Message integrity failure",
		"The message was altered or damaged in transit",
		"An integrity check on the message failed.",
		"The message was modified on the way (for example by a "
		"gateway).",
		"Send it again.",
		"Check gateways that rewrite messages.",
		"RFC 3463 3.8",
	},
	{
		7, 8, "Authentication credentials invalid",
		"Login failed: wrong user name or password",
		"The credentials given with AUTH were refused.",
		"A wrong user name or password, or a changed password.",
		"Check the user name and password in the mail program.",
		"Check the authentication log.",
		"RFC 4954 6",
	},
	{
		7, 9, "Authentication mechanism is too weak",
		"The login method is too weak",
		"The server requires a stronger authentication mechanism.",
		"A weak mechanism, or a provider demanding an app password "
		"or OAuth.",
		"Choose another method or create an app password.",
		"Check allowed mechanisms.",
		"RFC 4954 6",
	},
	{
		7, 10, "Encryption Needed",
		"An encrypted connection (TLS) is needed",
		"The server requires encryption for this.",
		"The client did not use STARTTLS or TLS.",
		"Turn on STARTTLS (port 587) or TLS (port 465).",
		"Nothing to check.",
		"RFC 5248",
	},
	{
		7, 11, "Encryption required for requested authentication "
		"mechanism",
		"This login method needs an encrypted connection",
		"The password would travel in clear text, so the server "
		"refuses.",
		"Logging in without STARTTLS or TLS.",
		"Turn on STARTTLS or TLS in the mail program.",
		"Do not advertise AUTH before TLS.",
		"RFC 4954 6",
	},
	{
		7, 12, "A password transition is needed",
		"The password must be changed or converted first",
		"The account must move to another authentication mechanism.",
		"The server changed how it stores passwords.",
		"Log in once as your provider explains.",
		"Check the authentication migration.",
		"RFC 4954 6",
	},
	{
		7, 13, "User Account Disabled",
		"The account is disabled",
		"The account exists but is disabled.",
		"Suspended for abuse, unpaid, or closed.",
		"Contact the account's provider.",
		"Check the account's status.",
		"RFC 5248",
	},
	{
		7, 14, "Trust relationship required",
		"The server needs a trust relationship with the sender's "
		    "system",
		"The submission server requires a configured trust "
		"relationship with a third party.",
		"Sending through a server that does not know your system.",
		"Use the server your provider tells you to use.",
		"Check the trust configuration.",
		"RFC 5248",
	},
	{
		7, 15, "Priority Level is too low",
		"The message priority is too low for this server",
		"The requested priority is lower than the server accepts now.",
		"The server only takes high-priority mail at this time.",
		"Try later or with a higher priority if allowed.",
		"Check priority policy.",
		"RFC 6710",
	},
	{
		7, 16, "Message is too big for the specified priority",
		"The message is too big for its priority",
		"Messages of this priority may not be this large.",
		"A large message with a high priority.",
		"Send it with a normal priority or make it smaller.",
		"Check priority size limits.",
		"RFC 6710",
	},
	{
		7, 17, "Mailbox owner has changed",
		"The mailbox now belongs to someone else",
		"The address was given to another person since the date the "
		"sender gave (RRVS).",
		"An address reused after its former owner left.",
		"Confirm the person's current address.",
		"Nothing to check.",
		"RFC 7293",
	},
	{
		7, 18, "Domain owner has changed",
		"The recipient's domain now belongs to someone else",
		"The domain changed hands since the date the sender gave "
		"(RRVS).",
		"An expired domain that was registered again.",
		"Confirm the person's current address.",
		"Nothing to check.",
		"RFC 7293",
	},
	{
		7, 19, "RRVS test cannot be completed",
		"The server cannot check how long the address has existed",
		"The RRVS check the sender asked for cannot be done.",
		"The server does not track mailbox ownership dates.",
		"Send without the RRVS option.",
		"Nothing to check.",
		"RFC 7293",
	},
	{
		7, 20, "No passing DKIM signature found",
		"Refused: the message has no valid DKIM signature",
		"The receiving server requires a valid DKIM signature and "
		"found none.",
		"The sending domain does not sign with DKIM, or the message "
		"was changed after signing.",
		"Ask your provider or administrator to set up DKIM signing.",
		"Check the DKIM verification log.",
		"RFC 7372",
	},
	{
		7, 21, "No acceptable DKIM signature found",
		"Refused: the DKIM signature is not acceptable",
		"The message has a valid DKIM signature, but not one the "
		"receiving policy accepts.",
		"A signature by an unexpected domain or with a weak key.",
		"Sign with the domain of the From address and a 2048-bit key.",
		"Check the DKIM policy.",
		"RFC 7372",
	},
	{
		7, 22, "No valid author-matched DKIM signature found",
		"Refused: no DKIM signature matches the From address",
		"No valid DKIM signature belongs to the domain in the From "
		"header.",
		"Mail sent through a service that signs with its own domain.",
		"Set up DKIM for your own domain at the sending service.",
		"Check the DKIM policy.",
		"RFC 7372",
	},
	{
		7, 23, "SPF validation failed",
		"Refused: the sending server is not allowed by the domain's "
		    "SPF",
		"The sending server's IP address is not listed in the SPF "
		"record of the sender's domain.",
		"A missing entry in the SPF record (new provider, forwarding).",
		"Ask whoever runs your domain's DNS to add the sending "
		"server to the SPF record.",
		"Check the SPF result in the log.",
		"RFC 7372",
	},
	{
		7, 24, "SPF validation error",
		"The sender domain's SPF record could not be checked",
		"Checking SPF produced an error (a broken record or a DNS "
		"failure).",
		"A malformed SPF record, too many DNS lookups in it, or DNS "
		"trouble.",
		"Have the domain's SPF record checked and fixed.",
		"Check the resolver and the SPF result in the log.",
		"RFC 7372",
	},
	{
		7, 25, "Reverse DNS validation failed",
		"Refused: the sending server's IP address has no matching "
		"host name",
		"The sending server's IP address has no reverse DNS name, or "
		"it does not point back to the address.",
		"No PTR record for the sending IP address.",
		"Ask the sending server's hosting provider to set a PTR "
		"record that matches its host name.",
		"Check the reverse DNS policy.",
		"RFC 7372",
	},
	{
		7, 26, "Multiple authentication checks failed",
		"Refused: unauthenticated mail (SPF and DKIM checks failed)",
		"The message failed more than one authentication check; "
		"Gmail uses this for senders that pass neither SPF nor DKIM.",
		"No SPF record or DKIM signature for the sending domain, or "
		"both fail (for example after forwarding).",
		"Set up SPF and DKIM (and DMARC) for the sending domain.",
		"Check the SPF, DKIM and DMARC results in the log.",
		"RFC 7372",
	},
	{
		7, 27, "Sender address has null MX",
		"Refused: the sender's domain does not accept mail (null MX)",
		"The sender's domain says it never receives mail, so replies "
		"and bounces could not be returned.",
		"Sending from a domain with a null MX record.",
		"Send from an address whose domain receives mail.",
		"Nothing to check.",
		"RFC 7505",
	},
	{
		7, 28, "Mail flood detected",
		"Refused: too many similar messages (mail flood)",
		"The message looks like part of a flood of similar abusive "
		"messages.",
		"Sending many identical messages, or a compromised account.",
		"Slow down; check that your account is not compromised.",
		"Check rate limits and abuse reports.",
		"IANA registry (RFC 5248 procedure)",
	},
	{
		7, 29, "ARC validation failure",
		"Refused: the ARC chain failed validation",
		"The message's ARC (forwarding authentication) chain is not "
		"valid.",
		"A forwarder that breaks or fakes ARC headers.",
		"Tell the forwarder's administrator.",
		"Check the ARC verification log.",
		"RFC 8617",
	},
	{
		7, 30, "REQUIRETLS support required",
		"Not delivered: the next server does not support REQUIRETLS",
		"The message asks for TLS on every hop, and a server on the "
		"way cannot guarantee it.",
		"A next-hop server without REQUIRETLS.",
		"Send without REQUIRETLS, or reach the recipient another way.",
		"Check REQUIRETLS support.",
		"RFC 8689",
	},
};

static const struct kb_hint hints[] = {
	{ "NoSuchUser", "Gmail",
	    "Gmail has no account with this address: check it for typos." },
	{ "OverQuota", "Gmail",
	    "The Gmail account is out of storage; the owner must free space." },
	{ "sender is unauthenticated", "Gmail",
	    "Gmail requires SPF or DKIM for the sending domain; set them up." },
	{ "UnsolicitedMessageError", "Gmail",
	    "Gmail judged the message as unsolicited; check SPF, DKIM, DMARC "
	    "and how recipients were collected." },
	{ "RecipNotFound", "Microsoft Exchange / 365",
	    "The recipient is not in the organisation's directory: check the "
	    "address." },
	{ "RecipientNotFound", "Microsoft Exchange / 365",
	    "Microsoft uses 5.1.10 here for \"recipient not found\", not for a "
	    "null MX: check the address." },
	{ "Access denied. AS(", "Microsoft 365",
	    "Microsoft 365 directory-based edge blocking: the recipient does "
	    "not exist in that organisation." },
	{ "S3150", "Outlook.com",
	    "The sending IP address is on Microsoft's block list; its "
	    "administrator can ask for delisting at Microsoft's sender "
	    "support site." },
	{ "S3140", "Outlook.com",
	    "The sending IP address is on Microsoft's block list; its "
	    "administrator can ask for delisting at Microsoft's sender "
	    "support site." },
	{ "banned sending IP", "Microsoft 365",
	    "The sending IP address is banned by Microsoft 365; use the "
	    "delist portal for its administrator." },
	{ "Client not authenticated", "Microsoft 365",
	    "Log in (SMTP AUTH) before sending, or send to the MX instead of "
	    "the submission server." },
	{ "SmtpClientAuthentication is disabled", "Microsoft 365",
	    "SMTP AUTH is turned off for this tenant or mailbox; the tenant "
	    "administrator must enable it, or use another way to send." },
	{ "TSS04", "Yahoo",
	    "Yahoo is deferring mail from this IP address because of volume "
	    "or complaints; slow down and check complaint rates." },
	{ "PH01", "Yahoo",
	    "Yahoo refused the message by policy; check authentication and "
	    "the sender's reputation." },
	{ "mimecast", "Mimecast",
	    "A Mimecast gateway refused it; the text's code names the policy, "
	    "and the recipient's administrator can allow the sender." },
	{ "Relay access denied", "Postfix",
	    "You are sending to a server that is not the recipient's and did "
	    "not log in: turn on SMTP authentication in the mail program." },
	{ "Relaying denied", "various",
	    "You are sending to a server that is not the recipient's and did "
	    "not log in: turn on SMTP authentication in the mail program." },
	{ "User unknown", "various",
	    "The recipient does not exist: check the address for typos." },
	{ "no mailbox here by that name", "qmail",
	    "The recipient does not exist on that qmail server." },
	{ "greylist", "various",
	    "Greylisting: the first message from a new sender is deferred on "
	    "purpose; the retry normally succeeds." },
	{ "blocked using", "Postfix",
	    "The sending IP address is on a DNS blocklist (named in the "
	    "text); its administrator should find out why and ask for "
	    "delisting." },
	{ "spamhaus", "Spamhaus",
	    "The sending IP address or domain is listed by Spamhaus; look it "
	    "up on Spamhaus's site and follow its removal procedure." },
	{ "DMARC", "various",
	    "The message failed the sender domain's DMARC policy: SPF or "
	    "DKIM must pass for the domain in the From header." },
	{ "SPF", "various",
	    "The SPF record of the sender's domain does not allow the "
	    "sending server." },
	{ "reverse hostname", "Postfix",
	    "The sending IP address has no valid reverse DNS (PTR) name; "
	    "ask its hosting provider to set one." },
	{ "Helo command rejected", "Postfix",
	    "The name the sending server gives in HELO/EHLO is refused; use "
	    "its real, fully qualified host name." },
	{ "Domain not found", "Postfix",
	    "The domain in the address does not exist in DNS." },
	{ "mailbox is full", "various",
	    "The recipient's mailbox is full; the owner must free space." },
	{ "quota", "various",
	    "The recipient's mailbox is over its storage quota." },
	{ "rate limit", "various",
	    "Too many messages in a short time; sending slower helps." },
	{ "too many connections", "various",
	    "Too many parallel connections; the sender should open fewer." },
	{ "retry timeout exceeded", "Exim",
	    "Exim kept trying and gave up; earlier attempts were deferred." },
	{ "Must issue a STARTTLS command first", "various",
	    "Turn on STARTTLS in the mail program's server settings." },
	{ "nullMX", "Postfix",
	    "The domain publishes a null MX: it never receives mail." },
};

/* kb_reply_count - number of basic code entries, for walkers and tests */
size_t
kb_reply_count(void)
{
	return ARRAY_LEN(replies);
}

/* kb_reply_at - the i-th basic code entry, or NULL past the end */
const struct kb_reply *
kb_reply_at(size_t i)
{
	return i < ARRAY_LEN(replies) ? &replies[i] : NULL;
}

/* kb_esc_count - number of enhanced code entries */
size_t
kb_esc_count(void)
{
	return ARRAY_LEN(escs);
}

/* kb_esc_at - the i-th enhanced code entry, or NULL past the end */
const struct kb_esc *
kb_esc_at(size_t i)
{
	return i < ARRAY_LEN(escs) ? &escs[i] : NULL;
}

/* kb_hint_count - number of text hints */
size_t
kb_hint_count(void)
{
	return ARRAY_LEN(hints);
}

/* kb_reply_find - the entry for exactly this basic code, or NULL */
const struct kb_reply *
kb_reply_find(int code)
{
	size_t i;

	for (i = 0; i < ARRAY_LEN(replies); i++)
		if (replies[i].code == code)
			return &replies[i];
	return NULL;
}

/* read 1 to 3 digits at s[*i]; -1 when there are none or more than 3 */
static int
read_num(const char *s, size_t len, size_t *i)
{
	int v = 0, n = 0;

	while (*i < len && isdigit((unsigned char)s[*i])) {
		if (++n > 3)
			return -1;
		v = v * 10 + (s[*i] - '0');
		(*i)++;
	}
	return n == 0 ? -1 : v;
}

/*
 * kb_esc_parse - read "class.subject.detail" (RFC 3463 2: class 2, 4 or
 * 5; subject and detail 1 to 3 digits) from exactly len bytes of s.
 * "X" is accepted as the class, as the registry writes it (cls = 0).
 * Returns 0, or -1 when s is not an enhanced status code.
 */
int
kb_esc_parse(const char *s, size_t len, struct kb_esc_code *out)
{
	size_t i = 1;

	if (s == NULL || len < 5)
		return -1;
	if (s[0] == '2' || s[0] == '4' || s[0] == '5')
		out->cls = s[0] - '0';
	else if (s[0] == 'X' || s[0] == 'x')
		out->cls = 0;
	else
		return -1;
	if (s[i++] != '.')
		return -1;
	if ((out->subject = read_num(s, len, &i)) < 0)
		return -1;
	if (i >= len || s[i++] != '.')
		return -1;
	if ((out->detail = read_num(s, len, &i)) < 0)
		return -1;
	return i == len ? 0 : -1;
}

static const struct kb_esc *
esc_lookup(int subject, int detail)
{
	size_t i;

	for (i = 0; i < ARRAY_LEN(escs); i++)
		if (escs[i].subject == subject && escs[i].detail == detail)
			return &escs[i];
	return NULL;
}

/* kb_esc_find - the entry for exactly this X.Y.Z (any class), or NULL */
const struct kb_esc *
kb_esc_find(const char *esc)
{
	struct kb_esc_code c;

	if (esc == NULL || kb_esc_parse(esc, strlen(esc), &c) < 0)
		return NULL;
	return esc_lookup(c.subject, c.detail);
}

/*
 * kb_esc_best - the entry for X.Y.Z, else the subject's X.Y.0 entry,
 * else NULL (only the class is known then).
 */
const struct kb_esc *
kb_esc_best(const char *esc)
{
	struct kb_esc_code c;
	const struct kb_esc *e;

	if (esc == NULL || kb_esc_parse(esc, strlen(esc), &c) < 0)
		return NULL;
	if ((e = esc_lookup(c.subject, c.detail)) != NULL)
		return e;
	return esc_lookup(c.subject, 0);
}

/* case-insensitive substring search, ASCII only */
static int
ci_contains(const char *hay, const char *needle)
{
	size_t n = strlen(needle);

	for (; *hay != '\0'; hay++)
		if (str_ncasecmp_ascii(hay, needle, n) == 0)
			return 1;
	return 0;
}

/*
 * kb_hints - the hints whose pattern occurs in text, at most max of them,
 * in table order, stored in out. Returns how many were stored.
 */
size_t
kb_hints(const char *text, const struct kb_hint **out, size_t max)
{
	size_t i, n = 0;

	if (text == NULL)
		return 0;
	for (i = 0; i < ARRAY_LEN(hints) && n < max; i++)
		if (ci_contains(text, hints[i].pattern))
			out[n++] = &hints[i];
	return n;
}

/* RFC 5321 4.2.1: the first digit */
static const char *const first_name[10] = {
	[1] = "Positive Preliminary reply (not valid in SMTP)",
	[2] = "Positive Completion reply",
	[3] = "Positive Intermediate reply",
	[4] = "Transient Negative Completion reply",
	[5] = "Permanent Negative Completion reply",
};
static const char *const first_text[10] = {
	[1] = "Not valid in SMTP: 1yz is borrowed from FTP, and SMTP has no "
	    "command that allows it (RFC 5321 4.2.1, 4.3.2). A server that "
	    "sends it is broken; treat the reply as a protocol error.",
	[2] = "Success: the requested action was completed.",
	[3] = "The command was accepted, but the server waits for more (the "
	    "message data after DATA, or the next AUTH step).",
	[4] = "Temporary failure: the action was not taken, but the same "
	    "request may work later. Mail servers retry on their own.",
	[5] = "Permanent failure: the action was not taken, and repeating "
	    "the same request will fail again. Something must change.",
};

/* RFC 5321 4.2.1: the second digit (an approximation, says the RFC) */
static const char *const second_name[10] = {
	[0] = "Syntax",
	[1] = "Information",
	[2] = "Connections",
	[3] = "Unspecified",
	[4] = "Unspecified",
	[5] = "Mail system",
};
static const char *const second_text[10] = {
	[0] = "Syntax errors, syntactically correct commands that fit no "
	    "functional group, and unimplemented or superfluous commands.",
	[1] = "Replies to requests for information, such as status or help.",
	[2] = "Replies about the transmission channel (the connection).",
	[3] = "Unspecified by RFC 5321; extensions use x3z for "
	    "authentication and encryption (530, 534, 535, 538, 432).",
	[4] = "Unspecified by RFC 5321.",
	[5] = "The status of the receiving mail system with respect to the "
	    "requested transfer or other mail system action (for example "
	    "this mailbox), not the health of the server as a whole.",
};

/* kb_first_digit_name - RFC 5321 name of a first digit; never NULL */
const char *
kb_first_digit_name(int digit)
{
	if (digit < 0 || digit > 9 || first_name[digit] == NULL)
		return "Not a valid SMTP reply";
	return first_name[digit];
}

/* kb_first_digit - what a first digit means; never NULL */
const char *
kb_first_digit(int digit)
{
	if (digit < 0 || digit > 9 || first_text[digit] == NULL)
		return "Not valid in SMTP: reply codes start with 2, 3, 4 "
		    "or 5.";
	return first_text[digit];
}

/* kb_second_digit_name - RFC 5321 name of a second digit; never NULL */
const char *
kb_second_digit_name(int digit)
{
	if (digit < 0 || digit > 9 || second_name[digit] == NULL)
		return "Undefined";
	return second_name[digit];
}

/* kb_second_digit - what a second digit means; never NULL */
const char *
kb_second_digit(int digit)
{
	if (digit < 0 || digit > 9 || second_text[digit] == NULL)
		return "Not defined by RFC 5321.";
	return second_text[digit];
}

/* kb_class_name - RFC 3463 name of an enhanced code class; never NULL */
const char *
kb_class_name(int cls)
{
	switch (cls) {
	case 2:
		return "Success";
	case 4:
		return "Persistent Transient Failure";
	case 5:
		return "Permanent Failure";
	}
	return "Invalid class";
}

/* kb_class_text - what a class means; never NULL */
const char *
kb_class_text(int cls)
{
	switch (cls) {
	case 2:
		return "The action was successful.";
	case 4:
		return "The message as sent is valid, but a temporary "
		    "condition prevents its delivery; a later try may "
		    "succeed.";
	case 5:
		return "Sending again in the same form will not succeed; "
		    "something about the message or the destination must "
		    "change.";
	}
	return "Enhanced codes start with 2, 4 or 5.";
}

static const char *const subject_names[8] = {
	"Other or Undefined Status", "Addressing Status", "Mailbox Status",
	"Mail System Status", "Network and Routing Status",
	"Mail Delivery Protocol Status", "Message Content or Media Status",
	"Security or Policy Status",
};
static const char *const subject_texts[8] = {
	"No more detail than the class.",
	"About the sender's or recipient's address.",
	"About the recipient's mailbox, which exists.",
	"About the receiving mail system as a whole.",
	"About the network or routing between the mail systems.",
	"About the SMTP dialogue itself.",
	"About the message's content or format.",
	"About security (login, encryption) or the receiver's policy.",
};

/* kb_subject_name - RFC 3463 name of a subject; never NULL */
const char *
kb_subject_name(int subject)
{
	if (subject < 0 || subject > 7)
		return "Unknown subject";
	return subject_names[subject];
}

/* kb_subject_text - what a subject covers; never NULL */
const char *
kb_subject_text(int subject)
{
	if (subject < 0 || subject > 7)
		return "Not defined by RFC 3463 or the IANA registry.";
	return subject_texts[subject];
}

/*
 * kb_verdict_of - what happened to the mail: from the basic code's first
 * digit when there is one (RFC 3463: the basic code rules when the two
 * disagree), else from the enhanced code's class.
 */
enum kb_verdict
kb_verdict_of(int code, const char *esc)
{
	struct kb_esc_code c;

	if (code > 0) {
		switch (code / 100) {
		case 2:
			return KB_V_DELIVERED;
		case 3:
			return KB_V_INTERMEDIATE;
		case 4:
			return KB_V_RETRY;
		case 5:
			return KB_V_FAILED;
		}
		return KB_V_INVALID;
	}
	if (esc != NULL && kb_esc_parse(esc, strlen(esc), &c) == 0) {
		switch (c.cls) {
		case 2:
			return KB_V_DELIVERED;
		case 4:
			return KB_V_RETRY;
		case 5:
			return KB_V_FAILED;
		}
	}
	return KB_V_UNKNOWN;
}

/* kb_verdict_name - the verdict as a word for scripts; never NULL */
const char *
kb_verdict_name(enum kb_verdict v)
{
	switch (v) {
	case KB_V_DELIVERED:
		return "delivered";
	case KB_V_INTERMEDIATE:
		return "in-progress";
	case KB_V_RETRY:
		return "retry";
	case KB_V_FAILED:
		return "failed";
	case KB_V_INVALID:
		return "invalid";
	case KB_V_UNKNOWN:
		break;
	}
	return "unknown";
}

/* kb_verdict_text - the verdict in words for people; never NULL */
const char *
kb_verdict_text(enum kb_verdict v)
{
	switch (v) {
	case KB_V_DELIVERED:
		return "Delivered: the receiving server accepted it.";
	case KB_V_INTERMEDIATE:
		return "In progress: the server waits for more input.";
	case KB_V_RETRY:
		return "Will be retried: a temporary failure; the sending "
		    "server tries again later.";
	case KB_V_FAILED:
		return "Failed for good: a permanent failure; it will not be "
		    "retried unless something changes.";
	case KB_V_INVALID:
		return "Invalid: this is not a valid SMTP reply code.";
	case KB_V_UNKNOWN:
		break;
	}
	return "Unknown: no reply code found.";
}

/* generic texts for codes the tables do not know, by first digit */
static const char *const generic_summary[10] = {
	[2] = "Success (code not in the knowledge base)",
	[3] = "The server waits for more input (code not in the knowledge "
	    "base)",
	[4] = "Temporary failure (code not in the knowledge base); it will "
	    "be retried",
	[5] = "Permanent failure (code not in the knowledge base)",
};

static const char *
generic_short(int digit)
{
	if (digit < 0 || digit > 9 || generic_summary[digit] == NULL)
		return "Not a valid SMTP reply code";
	return generic_summary[digit];
}

/* kb_view - choose and gather the explanation for (code, esc) */
void
kb_view(int code, const char *esc, struct kb_view *v)
{
	struct kb_esc_code c;
	int have_esc = 0, digit;

	memset(v, 0, sizeof(*v));
	v->verdict = kb_verdict_of(code, esc);
	if (code >= 100 && code <= 999)
		v->reply = kb_reply_find(code);
	if (esc != NULL && kb_esc_parse(esc, strlen(esc), &c) == 0) {
		have_esc = 1;
		v->esc = kb_esc_best(esc);
		v->esc_exact = v->esc != NULL && v->esc->subject == c.subject &&
		    v->esc->detail == c.detail;
		if (code > 0 && c.cls != 0 && c.cls != code / 100)
			v->conflict = 1;
	}

	if (v->esc != NULL && v->esc_exact && v->esc->detail != 0 &&
	    (v->reply == NULL || !(v->reply->flags & KB_F_PREFER))) {
		v->summary = v->esc->summary;
		v->meaning = v->esc->meaning;
		v->causes = v->esc->causes;
		v->sender = v->esc->sender;
		v->admin = v->esc->admin;
	} else if (v->reply != NULL) {
		v->summary = v->reply->summary;
		v->meaning = v->reply->meaning;
		v->causes = v->reply->causes;
		v->sender = v->reply->sender;
		v->admin = v->reply->admin;
	} else if (v->esc != NULL) {
		v->summary = v->esc->summary;
		v->meaning = v->esc->meaning;
		v->causes = v->esc->causes;
		v->sender = v->esc->sender;
		v->admin = v->esc->admin;
	} else {
		digit = code > 0 ? code / 100 : have_esc ? c.cls : -1;
		v->summary = digit < 0 ? "No reply code" : generic_short(digit);
		v->meaning = digit < 0 ? "No SMTP reply code was given." :
		    kb_first_digit(digit);
		v->causes = "The code is not in the knowledge base (it may be "
		    "specific to one server); the reply text says more.";
		v->sender = digit == 4 ?
		    "Nothing to do at once: it is retried." :
		    "Read the reply text; contact the recipient another way "
		    "if it stays unclear.";
		v->admin = "Check the server's documentation for this code.";
	}
}

/*
 * kb_short - one line (at most KB_SHORT_MAX chars) saying what the reply
 * means, from the most specific entry; esc may be NULL. Never NULL.
 */
const char *
kb_short(int code, const char *esc)
{
	struct kb_view v;

	kb_view(code, esc, &v);
	return v.summary;
}

/* append label and text wrapped at width (0: no wrapping); continuation
 * lines are indented by two spaces */
static int
put_wrapped(struct buf *out, const char *label, const char *text,
    unsigned width)
{
	size_t col, wlen;
	const char *p = text, *w;
	int line_empty = 1;

	if (buf_puts(out, label) < 0)
		return -1;
	col = strlen(label);
	for (;;) {
		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		w = p;
		while (*p != '\0' && *p != ' ')
			p++;
		wlen = (size_t)(p - w);
		if (width != 0 && col + 1 + wlen > width && col > 2) {
			if (buf_puts(out, "\n  ") < 0)
				return -1;
			col = 2;
			line_empty = 1;
		}
		if (!line_empty || (col > 0 && col != 2)) {
			if (buf_putc(out, ' ') < 0)
				return -1;
			col++;
		}
		if (buf_append(out, w, wlen) < 0)
			return -1;
		col += wlen;
		line_empty = 0;
	}
	return buf_putc(out, '\n');
}

/*
 * kb_describe - the long explanation of (code, esc) as plain text: the
 * verdict, the summary, meaning, likely causes, what the sender should do
 * and what the receiving administrator should check, one paragraph each,
 * wrapped at width columns (0: one line per paragraph). For bounces and
 * `tern explain`. Returns 0, or -1 when out is full.
 */
int
kb_describe(struct buf *out, int code, const char *esc, unsigned width)
{
	struct kb_view v;
	char head[64];

	kb_view(code, esc, &v);
	if (code > 0 && esc != NULL)
		snprintf(head, sizeof(head), "%d %.16s: ", code, esc);
	else if (code > 0)
		snprintf(head, sizeof(head), "%d: ", code);
	else if (esc != NULL)
		snprintf(head, sizeof(head), "%.16s: ", esc);
	else
		head[0] = '\0';
	if (buf_puts(out, head) < 0 || buf_puts(out, v.summary) < 0 ||
	    buf_puts(out, ".\n") < 0)
		return -1;
	if (put_wrapped(out, "Verdict:", kb_verdict_text(v.verdict),
		width) < 0 ||
	    put_wrapped(out, "Meaning:", v.meaning, width) < 0 ||
	    put_wrapped(out, "Likely causes:", v.causes, width) < 0 ||
	    put_wrapped(out, "What the sender should do:", v.sender,
		width) < 0 ||
	    put_wrapped(out, "What the receiving administrator should check:",
		v.admin, width) < 0)
		return -1;
	return 0;
}
