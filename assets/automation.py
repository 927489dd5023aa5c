"""Automation conditions shared by the assets that follow their upstream on their own."""

from dagster import AssetSelection, AutomationCondition

# Eager, except that a dependency counts as present once any of its partitions is. An asset
# that reads every arrival day (dedupe, the marts) would otherwise wait forever: days without
# files are never materialized, and plain eager() waits until no dependency partition is
# missing (measured with evaluate_automation_conditions).
FOLLOW_UPSTREAM = (
    AutomationCondition.eager().without(~AutomationCondition.any_deps_missing())
    & AutomationCondition.all_deps_match(~AutomationCondition.missing())
).with_label("eager (once every dependency has data)")


def follow_upstream(optional: list[str]) -> AutomationCondition:
    """FOLLOW_UPSTREAM, not waiting for the `optional` dependencies to have data (a source
    that may never be configured, such as the CRM's leads for the dedupe)."""
    return (
        AutomationCondition.eager().without(~AutomationCondition.any_deps_missing())
        & AutomationCondition.all_deps_match(~AutomationCondition.missing()).ignore(
            AssetSelection.assets(*optional)
        )
    ).with_label(f"eager (once every dependency but {', '.join(optional)} has data)")
