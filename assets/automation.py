"""Automation conditions shared by the assets that follow their upstream on their own."""

from dagster import AutomationCondition

# Eager, except that a dependency counts as present once any of its partitions is. An asset
# that reads every arrival day (dedupe, the marts) would otherwise wait forever: days without
# files are never materialized, and plain eager() waits until no dependency partition is
# missing (measured with evaluate_automation_conditions).
FOLLOW_UPSTREAM = (
    AutomationCondition.eager().without(~AutomationCondition.any_deps_missing())
    & AutomationCondition.all_deps_match(~AutomationCondition.missing())
).with_label("eager (once every dependency has data)")
