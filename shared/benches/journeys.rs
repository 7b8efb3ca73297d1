//! Step times of a 50-step journey in Europe/Paris (the largest a journey may be): anchors at
//! the start and the end, offsets from 400 days before to 400 days after, half with a clock
//! time, some landing on the nights the clocks change. Also the checks of the whole journey,
//! which compute every time again.

use std::hint::black_box;

use chrono::{NaiveDate, NaiveDateTime};
use criterion::{Criterion, criterion_group, criterion_main};
use herald::domain::{Channel, Layer, TemplateCategory};
use herald::journeys::{
    Anchor, EventTimes, LateEntry, LocalClock, MAX_STEPS, Offset, ResolvedJourney, ResolvedStep,
    StepAudience, StepDef, StepKey, WhenMissed, check_journey,
};

fn local(y: i32, m: u32, d: u32, h: u32, min: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(y, m, d)
        .and_then(|date| date.and_hms_opt(h, min, 0))
        .expect("a valid date")
}

fn journey() -> ResolvedJourney {
    let steps = (0..MAX_STEPS as u32)
        .map(|i| {
            let negative = i % 3 != 0;
            let days = (i * 37) % 401;
            let seconds = if i % 4 == 0 {
                (i % 24) * 3600 + 1800
            } else {
                0
            };
            let def = StepDef {
                key: StepKey::parse(&format!("step-{i}")).expect("key"),
                category: TemplateCategory::ALL[i as usize % TemplateCategory::ALL.len()],
                channels: vec![Channel::Email, Channel::Sms],
                audience: StepAudience::All,
                anchor: if i % 2 == 0 {
                    Anchor::EventStart
                } else {
                    Anchor::EventEnd
                },
                offset: Offset::new(negative, days, seconds)
                    .or_else(|_| Offset::new(negative, days, 0))
                    .expect("offset"),
                // Some at 02:30, which the clocks skip or repeat on their nights.
                at: match i % 4 {
                    0 => None,
                    1 => LocalClock::new(10, 0),
                    2 => LocalClock::new(2, 30),
                    _ => LocalClock::new(i % 24, (i * 7) % 60),
                },
                when_missed: WhenMissed::Skip,
                late_entry: LateEntry::Skip,
                on_cancel: false,
                enabled: true,
            };
            ResolvedStep::from_def(&def, Layer::Tenant)
        })
        .collect();
    ResolvedJourney { steps }
}

fn bench(c: &mut Criterion) {
    let journey = journey();
    let event = EventTimes {
        starts_at: local(2027, 3, 28, 18, 0),
        ends_at: local(2027, 3, 30, 17, 0),
        zone: chrono_tz::Europe::Paris,
        created_at: "2025-01-01T00:00:00Z".parse().expect("instant"),
        rsvp_deadline: None,
    };
    c.bench_function("journey_step_times/50_steps", |b| {
        b.iter(|| black_box(&journey).times(black_box(&event)))
    });
    c.bench_function("check_journey/50_steps", |b| {
        b.iter(|| check_journey(black_box(&journey), black_box(&event)))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
