"""Configuration sources turned into one immutable MailServerConfig."""
