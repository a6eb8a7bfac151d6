"""`briefing inbox`: read the mail that comes back (bounces, complaints, mailto
unsubscribes) from a mailbox and update the audience.

One module per job: sources (IMAP, Maildir, mbox), classify (what a message
says), rules (RFC 3463 codes → what to do), state (what was processed), apply
(statuses and soft-bounce counting) and service (the run).
"""
