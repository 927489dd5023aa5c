"""The prospecting agent: a form submission to a personalized draft in seven steps (intake,
CRM, mail history, free slots, message, draft, follow-up task), each once per submission,
retried then dead-lettered with the step named, every step in the audit log. No Dagster here:
`assets/agent.py` runs the steps as assets; `flow.py` is the engine."""
