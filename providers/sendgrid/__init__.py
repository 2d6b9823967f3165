"""SendGrid: the only code that knows its JSON, headers and event dialect.

- `transport`: keep-alive HTTP for the official `sendgrid` library;
- `requests`: mail/send bodies, one per recipient or one per lesson with personalizations;
- `mail`: the backend (send, bulk send, split on 400/413, error mapping);
- `contract`: how our tags travel as custom args, and which events prove a send;
- `webhook`: signature check, event parsing into ProviderEvents, personal-data scrubbing.
"""
