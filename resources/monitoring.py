"""Client monitoring as a Dagster resource: the YAML files, the classifier, the providers'
keys (as EnvVars, so the UI shows their names), who is told when a schedule pauses itself."""

from __future__ import annotations

from dagster import ConfigurableResource
from pydantic import Field
from sqlalchemy import Engine

from pipeline.config import ConfigError
from pipeline.monitoring.classify import Classifier, RulesClassifier
from pipeline.monitoring.classify.rules import load_rules
from pipeline.monitoring.config import (
    AccountsFile,
    PreferencesFile,
    SourcesFile,
    load_accounts_file,
    load_preferences,
    load_sources,
)
from pipeline.monitoring.fetch import Keys
from resources.llm import LlmResource


class MonitoringResource(ConfigurableResource):
    accounts_path: str | None = Field(default=None, description="MONITORING_ACCOUNTS")
    sources_path: str | None = Field(default=None, description="MONITORING_SOURCES")
    preferences_path: str | None = Field(default=None, description="NOTIFY_PREFERENCES")
    rules_path: str | None = Field(default=None, description="MONITORING_RULES")
    classifier: str = Field(default="rules", description="MONITORING_CLASSIFIER: rules | llm")
    data_dir: str = Field(description="LEADS_DATA_DIR: raw answers and quarantined feeds")
    news_api_key: str | None = Field(default=None, description="NEWS_API_KEY (an EnvVar)")
    google_cse_key: str | None = Field(default=None, description="GOOGLE_CSE_KEY (an EnvVar)")
    google_cse_id: str | None = Field(default=None, description="GOOGLE_CSE_ID")
    google_api_base_url: str | None = Field(default=None, description="GOOGLE_API_BASE_URL")
    max_failures: int = Field(default=5, description="MONITORING_MAX_FAILURES")
    admin_email: str | None = Field(default=None, description="MONITORING_ADMIN_EMAIL")
    sender: str = Field(description="MONITORING_SENDER: the From of digests and alerts")

    def accounts_file(self) -> AccountsFile:
        return load_accounts_file(self.accounts_path)

    def sources(self) -> SourcesFile:
        return load_sources(self.sources_path)

    def preferences(self) -> PreferencesFile:
        return load_preferences(self.preferences_path)

    def provider_keys(self) -> Keys:
        return Keys(
            news_api_key=self.news_api_key,
            google_cse_key=self.google_cse_key,
            google_cse_id=self.google_cse_id,
            google_api_base_url=self.google_api_base_url,
        )

    def make_classifier(
        self, engine: Engine, llm: LlmResource | None = None, run_id: str | None = None
    ) -> Classifier:
        """The rules, or the project's LLM resource (MONITORING_CLASSIFIER=llm needs
        LLM_BACKEND=openai: the rules are never a silent stand-in)."""
        if self.classifier == "llm":
            from pipeline.monitoring.classify.llm import LlmClassifier

            if llm is None or not llm.enabled:
                raise ConfigError(
                    "MONITORING_CLASSIFIER=llm needs the LLM resource: LLM_BACKEND=openai with "
                    "OPENAI_API_KEY / OPENAI_BASE_URL"
                )
            return LlmClassifier(llm.client(engine), run_id=run_id)
        return RulesClassifier(load_rules(self.rules_path))

    def describe(self) -> str:
        return f"monitoring classifier: {self.classifier}"
