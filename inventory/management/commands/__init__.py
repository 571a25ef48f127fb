"""Commands for operators and cron: plan restocking and evaluate forecasters."""
