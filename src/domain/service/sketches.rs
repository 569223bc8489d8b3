//! Sketch submission: checks a client's (blinded) counts and folds them into its group's
//! running sum. Individual vectors are never stored.

use std::sync::Arc;

use super::error::ServiceError;
use super::{now, Context};
use crate::domain::crypto;
use crate::domain::error::Errors;
use crate::domain::sketch::Submission;
use crate::domain::time::Calendar;
use crate::ports::storage::SubmitOutcome;
use crate::ports::{CampaignStore, Clock, Metrics, RejectReason, SketchStore};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubmissionInput {
    pub encrypted_values: Option<Vec<String>>,
    pub raw_values: Option<Vec<i64>>,
}

#[derive(Clone)]
pub struct SketchService {
    sketches: Arc<dyn SketchStore>,
    campaigns: Arc<dyn CampaignStore>,
    metrics: Arc<dyn Metrics>,
    clock: Arc<dyn Clock>,
    calendar: Calendar,
}

fn reason(e: &ServiceError) -> RejectReason {
    match e {
        ServiceError::NotFound => RejectReason::NotFound,
        ServiceError::AlreadySubmitted => RejectReason::AlreadySubmitted,
        ServiceError::WindowClosed => RejectReason::WindowClosed,
        _ => RejectReason::Invalid,
    }
}

impl SketchService {
    pub fn new(ctx: &Context) -> Self {
        SketchService {
            sketches: ctx.storage.clone(),
            campaigns: ctx.storage.clone(),
            metrics: ctx.metrics.clone(),
            clock: ctx.clock.clone(),
            calendar: ctx.calendar,
        }
    }

    pub async fn submit(&self, name: &str, input: SubmissionInput) -> Result<(), ServiceError> {
        let result = self.try_submit(name, input).await;
        match &result {
            Ok(()) => self.metrics.sketch_accepted(),
            // Not the client's doing: nothing to count against it.
            Err(ServiceError::Unavailable(_) | ServiceError::Failure(_)) => {}
            Err(e) => self.metrics.sketch_rejected(reason(e)),
        }
        result
    }

    async fn try_submit(&self, name: &str, input: SubmissionInput) -> Result<(), ServiceError> {
        let sketch = self
            .sketches
            .get_sketch(name)
            .await?
            .ok_or(ServiceError::NotFound)?;
        if sketch.submitted {
            return Err(ServiceError::AlreadySubmitted);
        }
        let campaign = self
            .campaigns
            .get_campaign(&sketch.campaign_name)
            .await?
            .ok_or(ServiceError::NotFound)?;
        let start = campaign.start_time.ok_or(ServiceError::WindowClosed)?;
        let now = now(self.clock.as_ref());
        if self.calendar.relative_day(start, now) >= sketch.day + campaign.window_days() {
            return Err(ServiceError::WindowClosed);
        }

        let expected = sketch.queries_count as usize + 1;
        let mut errors = Errors::default();
        let encrypted = input.encrypted_values.unwrap_or_default();
        let raw = input.raw_values.unwrap_or_default();
        // Without the vector its campaign collects, a member would close its sketch for good
        // and leave its group undecryptable: refused, so that a correct submission can follow.
        if campaign.collect_encrypted && encrypted.is_empty() {
            errors.add("encryptedValues", "is required");
        }
        if !encrypted.is_empty() && encrypted.len() != expected {
            errors.add(
                "encryptedValues",
                format!("should have {expected} elements"),
            );
        }
        let mut reduced = Vec::with_capacity(encrypted.len());
        for (i, value) in encrypted.iter().enumerate() {
            match crypto::parse_decimal(value) {
                Some(v) => reduced.push(crypto::reduce(&v)),
                None => errors.add(
                    format!("encryptedValues.{i}"),
                    format!(
                        "should be a decimal integer of at most {} digits",
                        crypto::MAX_DIGITS
                    ),
                ),
            }
        }
        if campaign.collect_raw && raw.is_empty() {
            errors.add("rawValues", "is required");
        }
        if !raw.is_empty() && raw.len() != expected {
            errors.add("rawValues", format!("should have {expected} elements"));
        }
        let max_count = i64::from(campaign.max_count);
        for (i, value) in raw.iter().enumerate() {
            if *value < 0 {
                errors.add(format!("rawValues.{i}"), "should not be negative");
            } else if *value > max_count {
                errors.add(
                    format!("rawValues.{i}"),
                    format!("should be at most {max_count}"),
                );
            }
        }
        errors.into_result()?;

        let submission = Submission {
            sketch_name: sketch.name,
            encrypted: (campaign.collect_encrypted && !reduced.is_empty()).then_some(reduced),
            raw: (campaign.collect_raw && !raw.is_empty()).then_some(raw),
        };
        match self.sketches.submit(&submission).await? {
            SubmitOutcome::Accepted => Ok(()),
            SubmitOutcome::NotFound => Err(ServiceError::NotFound),
            SubmitOutcome::AlreadySubmitted => Err(ServiceError::AlreadySubmitted),
        }
    }
}
