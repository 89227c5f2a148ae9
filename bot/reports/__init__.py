"""Reports across conversations, computed from the event log: the metrics, the topic tags,
the questions the bot could not answer, and their spreadsheet exports."""
