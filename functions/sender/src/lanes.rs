//! Two lanes through every rate-limited provider: bulk (campaigns and journey steps) and
//! transactional (one message to one person, such as an RSVP confirmation), so that no
//! campaign delays a transactional message.
//!
//! Each lane has its own queue (the sender queue, the transactional queue, each with its own
//! event source mapping) and its own share of every send-rate bucket (a provider's
//! `send_rate`, and the SES account's maximum send rate). A bucket of `rate` messages per
//! second is split into two schedules, each a GCRA bucket of its own in DynamoDB:
//!
//! - transactional: [`TRANSACTIONAL_SHARE`] of the rate, at least [`TRANSACTIONAL_FLOOR`]
//!   message per second (but never more than half the rate), kept in the item `{sk}#tx`;
//! - bulk: the rest, kept in the bucket's own item (`{sk}`).
//!
//! A job books only its own lane's schedule, with the one conditional UpdateItem on `tat` the
//! gate always made (see `Store::book_send_slots`). Bulk sending can therefore never book the
//! transactional share, however far ahead campaigns have booked theirs: a transactional
//! message finds its lane idle or nearly so and goes at once. The two rates add up to the
//! bucket's rate, and each schedule hands out one slot per interval of its own rate, so the
//! provider's total stays within its rate.
//!
//! The price: campaigns send at the bulk share (80% of a provider's rate) even when no
//! transactional message is waiting, since lending the reserved share to a campaign's
//! ten-second bookings would put transactional messages behind it again. The other way round,
//! a transactional message whose lane is booked beyond the gate's horizon (a burst of them
//! above the reserved rate) books the bulk lane before it waits: it never fares worse than
//! a campaign's message.

use herald::ids::CampaignId;

/// The share of every send rate that only transactional messages may book.
pub const TRANSACTIONAL_SHARE: f64 = 0.2;
/// The least transactional rate (messages per second), for providers with low rates; it
/// takes at most half of a rate.
pub const TRANSACTIONAL_FLOOR: f64 = 1.0;
/// The suffix of a rate bucket's sort key for its transactional lane.
pub const TRANSACTIONAL_SUFFIX: &str = "#tx";

/// Which lane a message travels in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lane {
    /// Campaigns and journey steps.
    Bulk,
    /// One message to one person, sent at once: never behind a campaign.
    Transactional,
}

impl Lane {
    /// A job of a campaign (journey steps run as campaigns) is bulk; any other is
    /// transactional.
    pub fn of(campaign: Option<CampaignId>) -> Self {
        match campaign {
            Some(_) => Self::Bulk,
            None => Self::Transactional,
        }
    }
}

/// A send rate split between the lanes (messages per second).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Split {
    pub bulk: f64,
    pub transactional: f64,
}

impl Split {
    /// Splits `rate` (messages per second, more than 0).
    pub fn of(rate: f64) -> Self {
        let transactional = (rate * TRANSACTIONAL_SHARE).max(TRANSACTIONAL_FLOOR.min(rate / 2.0));
        Self {
            bulk: rate - transactional,
            transactional,
        }
    }

    /// The lane's rate.
    pub fn rate(&self, lane: Lane) -> f64 {
        match lane {
            Lane::Bulk => self.bulk,
            Lane::Transactional => self.transactional,
        }
    }
}

/// The item of a lane's schedule within a rate bucket (partition, sort key).
pub fn bucket(base: &(String, String), lane: Lane) -> (String, String) {
    match lane {
        Lane::Bulk => base.clone(),
        Lane::Transactional => (base.0.clone(), format!("{}{TRANSACTIONAL_SUFFIX}", base.1)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn twenty_percent_of_a_rate_is_reserved_for_transactional_messages() {
        let s = Split::of(20.0);
        assert!(close(s.transactional, 4.0), "{s:?}");
        assert!(close(s.bulk, 16.0), "{s:?}");
        // SES's usual production rate.
        let s = Split::of(14.0);
        assert!(close(s.transactional, 2.8), "{s:?}");
        let s = Split::of(1000.0);
        assert!(close(s.transactional, 200.0), "{s:?}");
    }

    #[test]
    fn a_low_rate_keeps_one_message_a_second_but_never_more_than_half() {
        let s = Split::of(3.0);
        assert!(close(s.transactional, 1.0), "{s:?}");
        assert!(close(s.bulk, 2.0), "{s:?}");
        let s = Split::of(1.0);
        assert!(close(s.transactional, 0.5), "{s:?}");
        assert!(close(s.bulk, 0.5), "{s:?}");
        // SES's sandbox rate, and a fraction of it.
        let s = Split::of(0.2);
        assert!(close(s.transactional, 0.1), "{s:?}");
    }

    #[test]
    fn the_lanes_add_up_to_the_rate_and_each_gets_some() {
        let rates = (1..=2_000)
            .map(|i| f64::from(i) / 10.0)
            .chain((1..=100).map(|i| f64::from(i) * 1_000.0));
        for rate in rates {
            let s = Split::of(rate);
            assert!(close(s.bulk + s.transactional, rate), "{rate}: {s:?}");
            assert!(s.bulk >= rate / 2.0 - 1e-9, "{rate}: {s:?}");
            assert!(s.transactional >= rate * TRANSACTIONAL_SHARE - 1e-9);
            assert!(s.transactional >= TRANSACTIONAL_FLOOR.min(rate / 2.0) - 1e-9);
            assert!(close(s.rate(Lane::Bulk), s.bulk));
            assert!(close(s.rate(Lane::Transactional), s.transactional));
        }
    }

    #[test]
    fn each_lane_has_its_own_item_and_bulk_keeps_the_buckets() {
        let base = ("TENANT#t#PROVSTATE".to_owned(), "RATE#p".to_owned());
        assert_eq!(bucket(&base, Lane::Bulk), base);
        assert_eq!(
            bucket(&base, Lane::Transactional),
            ("TENANT#t#PROVSTATE".to_owned(), "RATE#p#tx".to_owned())
        );
    }

    #[test]
    fn campaign_jobs_are_bulk_and_the_rest_transactional() {
        assert_eq!(Lane::of(Some(CampaignId::new())), Lane::Bulk);
        assert_eq!(Lane::of(None), Lane::Transactional);
    }
}
