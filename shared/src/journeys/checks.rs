//! What is wrong with a journey: one layer's shape as it is written, and the resolved journey
//! against its event. Offsets need no check here: an [`Offset`](super::Offset) is within 400
//! days by construction.

use std::collections::HashMap;

use super::{
    EventJourneyChanges, EventTimes, JourneyDef, MAX_CHANNELS, MAX_STEPS, ResolvedJourney,
    StepAudience, StepDef, StepKey, local_parts,
};
use crate::domain::Channel;
use crate::providers::FieldIssue;

impl JourneyDef {
    /// Its shape: the number of steps, unique keys, channels, audiences, and follow-ups to a
    /// step of this journey other than themselves. Times are checked once resolved, against
    /// an event ([`check_journey`]).
    pub fn issues(&self) -> Vec<FieldIssue> {
        let mut issues = Vec::new();
        count_issue(&mut issues, "steps", self.steps.len());
        key_issues(&mut issues, "steps", self.steps.iter().map(|s| &s.key));
        for (i, step) in self.steps.iter().enumerate() {
            let at = format!("steps[{i}]");
            step_issues(&mut issues, &at, step);
            if let Some((target, _)) = step.audience.follows()
                && target != &step.key
                && !self.steps.iter().any(|s| &s.key == target)
            {
                issues.push(FieldIssue::new(
                    format!("{at}.audience.step"),
                    format!("the journey has no step '{target}' to follow up"),
                ));
            }
        }
        issues
    }
}

impl EventJourneyChanges {
    /// Its shape alone (whether the tenant has the changed steps is known on resolution): at
    /// most 50 changes, each step changed once, channels and audiences, added steps as in a
    /// journey, and no key both changed and added.
    pub fn issues(&self) -> Vec<FieldIssue> {
        let mut issues = Vec::new();
        count_issue(&mut issues, "changes", self.changes.len());
        key_issues(&mut issues, "changes", self.changes.iter().map(|c| &c.key));
        for (i, change) in self.changes.iter().enumerate() {
            let at = format!("changes[{i}]");
            if let Some(channels) = &change.channels {
                channel_issue(&mut issues, &at, channels);
            }
            if let Some(audience) = &change.audience {
                audience_issue(&mut issues, &at, &change.key, audience);
            }
        }
        count_issue(&mut issues, "added", self.added.len());
        key_issues(&mut issues, "added", self.added.iter().map(|s| &s.key));
        for (i, step) in self.added.iter().enumerate() {
            let at = format!("added[{i}]");
            step_issues(&mut issues, &at, step);
            if self.changes.iter().any(|c| c.key == step.key) {
                issues.push(FieldIssue::new(
                    format!("{at}.key"),
                    format!(
                        "step '{}' is also changed: a step is either the tenant's (changed) \
                         or the event's own (added)",
                        step.key
                    ),
                ));
            }
        }
        issues
    }
}

/// The resolved journey against its event (paths `steps[3].offset`): at most 50 steps, unique
/// keys, channels and audiences; a follow-up follows an enabled step due strictly before it; no
/// step is due before the event was created. Steps turned off are checked for shape only;
/// steps sent on cancellation have no time to check.
pub fn check_journey(resolved: &ResolvedJourney, event: &EventTimes) -> Vec<FieldIssue> {
    let mut issues = Vec::new();
    count_issue(&mut issues, "steps", resolved.steps.len());
    key_issues(&mut issues, "steps", resolved.steps.iter().map(|s| &s.key));
    let times = resolved.times(event);
    let index: HashMap<&StepKey, usize> = resolved
        .steps
        .iter()
        .enumerate()
        .rev() // the first of repeated keys wins
        .map(|(i, s)| (&s.key, i))
        .collect();
    let local = |utc| local_parts(utc, event.zone).format("%Y-%m-%d %H:%M");

    for (i, step) in resolved.steps.iter().enumerate() {
        let at = format!("steps[{i}]");
        channel_issue(&mut issues, &at, &step.channels);
        audience_issue(&mut issues, &at, &step.key, &step.audience);
        if !step.enabled {
            continue;
        }
        if let Some(time) = times[i]
            && time.utc < event.created_at
        {
            issues.push(FieldIssue::new(
                format!("{at}.offset"),
                format!(
                    "step '{}' would be due at {} ({}), before the event was created ({}): \
                     move it or turn it off for this event",
                    step.key,
                    time.local.format("%Y-%m-%d %H:%M"),
                    event.zone.name(),
                    local(event.created_at),
                ),
            ));
        }
        let Some((target, _)) = step.audience.follows() else {
            continue;
        };
        let field = format!("{at}.audience.step");
        let problem = match index.get(target).map(|&j| (j, &resolved.steps[j])) {
            None => Some(format!("the journey has no step '{target}' to follow up")),
            Some((j, _)) if j == i => None, // reported with the audience's shape
            Some((_, earlier)) if !earlier.enabled => Some(format!(
                "step '{target}' is turned off: there is nothing to follow up"
            )),
            Some((_, earlier)) if earlier.on_cancel => Some(format!(
                "step '{target}' is sent only if the event is cancelled: it cannot be followed up"
            )),
            Some((j, _)) => match (times[j], times[i]) {
                (Some(earlier), Some(own)) if earlier.utc >= own.utc => Some(format!(
                    "step '{target}' is due at {}, not before this step ({}): a follow-up comes \
                     after the step it follows",
                    earlier.local.format("%Y-%m-%d %H:%M"),
                    own.local.format("%Y-%m-%d %H:%M"),
                )),
                _ => None,
            },
        };
        if let Some(message) = problem {
            issues.push(FieldIssue::new(field, message));
        }
    }
    issues
}

fn count_issue(issues: &mut Vec<FieldIssue>, field: &str, count: usize) {
    if count > MAX_STEPS {
        issues.push(FieldIssue::new(
            field,
            format!("a journey has at most {MAX_STEPS} steps, not {count}"),
        ));
    }
}

fn key_issues<'a>(
    issues: &mut Vec<FieldIssue>,
    list: &str,
    keys: impl Iterator<Item = &'a StepKey>,
) {
    let mut first = HashMap::new();
    for (i, key) in keys.enumerate() {
        let j = *first.entry(key).or_insert(i);
        if j != i {
            issues.push(FieldIssue::new(
                format!("{list}[{i}].key"),
                format!("'{key}' is already the key of {list}[{j}]: keys are unique"),
            ));
        }
    }
}

fn step_issues(issues: &mut Vec<FieldIssue>, at: &str, step: &StepDef) {
    channel_issue(issues, at, &step.channels);
    audience_issue(issues, at, &step.key, &step.audience);
}

fn channel_issue(issues: &mut Vec<FieldIssue>, at: &str, channels: &[Channel]) {
    let repeated = channels
        .iter()
        .enumerate()
        .any(|(i, c)| channels[..i].contains(c));
    let message = if channels.is_empty() || channels.len() > MAX_CHANNELS {
        format!("1 to {MAX_CHANNELS} channels, in order of preference")
    } else if repeated {
        "each channel at most once".to_owned()
    } else {
        return;
    };
    issues.push(FieldIssue::new(format!("{at}.channels"), message));
}

fn audience_issue(issues: &mut Vec<FieldIssue>, at: &str, key: &StepKey, audience: &StepAudience) {
    if let Some((target, _)) = audience.follows() {
        if target == key {
            issues.push(FieldIssue::new(
                format!("{at}.audience.step"),
                "a follow-up follows an earlier step, not itself",
            ));
        }
    } else if let Some((field, message)) = audience
        .campaign_audience(crate::ids::EventId::default())
        .check()
    {
        issues.push(FieldIssue::new(format!("{at}.{field}"), message));
    }
}

#[cfg(test)]
#[path = "checks_tests.rs"]
mod tests;
