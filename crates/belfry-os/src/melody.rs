//! The built-in melodies, synthesized in code (so they ship with the app,
//! licensed with it, and cost no file I/O): each is a few bell-like or
//! plucked notes rendered once into a sample buffer that is kept ready.

use belfry_proto::catalogue::MELODIES;
use std::collections::HashMap;
use std::f32::consts::TAU;
use std::sync::Arc;
use std::time::Duration;

/// Sample rate of the rendered melodies.
pub const SAMPLE_RATE: u32 = 44_100;

/// No melody rings longer than this: a notification, not a tune.
pub const MAX_LENGTH: Duration = Duration::from_secs(2);

/// A built-in melody as the settings show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Melody {
    /// Stable id (one of [`MELODIES`]).
    pub id: &'static str,
    /// What it sounds like, in a few words.
    pub sound: &'static str,
    /// How long it rings at most, tail included.
    pub length: Duration,
}

const fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Every built-in melody, in the order of [`MELODIES`].
pub const CATALOGUE: [Melody; 10] = [
    Melody {
        id: "chime",
        sound: "ding-dong: a falling fifth on two bells",
        length: ms(2000),
    },
    Melody {
        id: "ding",
        sound: "one clear bell",
        length: ms(2000),
    },
    Melody {
        id: "marimba",
        sound: "a quick rising arpeggio on wood",
        length: ms(1000),
    },
    Melody {
        id: "pluck",
        sound: "two plucked strings, up a fifth",
        length: ms(2000),
    },
    Melody {
        id: "bubble",
        sound: "a rising bubble: three quick glassy notes",
        length: ms(2000),
    },
    Melody {
        id: "harp",
        sound: "a gentle four-note harp arpeggio",
        length: ms(2000),
    },
    Melody {
        id: "triad",
        sound: "a soft major chord",
        length: ms(2000),
    },
    Melody {
        id: "knock",
        sound: "two low knocks",
        length: ms(600),
    },
    Melody {
        id: "bells",
        sound: "three falling bells",
        length: ms(2000),
    },
    Melody {
        id: "alert",
        sound: "two urgent beeps and a higher third",
        length: ms(1500),
    },
];

/// The catalogue entry of `id`, if it is a built-in melody.
pub fn info(id: &str) -> Option<&'static Melody> {
    CATALOGUE.iter().find(|m| m.id == id)
}

/// A timbre: relative partials (frequency ratio, amplitude) and a decay.
#[derive(Clone, Copy)]
struct Timbre {
    partials: &'static [(f32, f32)],
    /// Seconds for the amplitude to fall to 1/e.
    decay: f32,
}

const BELL: Timbre = Timbre {
    partials: &[
        (1.0, 1.0),
        (2.0, 0.45),
        (3.01, 0.22),
        (4.2, 0.12),
        (5.4, 0.06),
    ],
    decay: 0.45,
};
const GLASS: Timbre = Timbre {
    partials: &[(1.0, 1.0), (2.76, 0.3), (5.4, 0.1)],
    decay: 0.6,
};
const WOOD: Timbre = Timbre {
    partials: &[(1.0, 1.0), (3.9, 0.35), (9.2, 0.08)],
    decay: 0.12,
};
const STRING: Timbre = Timbre {
    partials: &[(1.0, 1.0), (2.0, 0.5), (3.0, 0.33), (4.0, 0.25), (5.0, 0.2)],
    decay: 0.3,
};
const SOFT: Timbre = Timbre {
    partials: &[(1.0, 1.0), (2.0, 0.15)],
    decay: 0.5,
};
const THUMP: Timbre = Timbre {
    partials: &[(1.0, 1.0), (1.5, 0.4), (2.3, 0.2)],
    decay: 0.07,
};
const BEEP: Timbre = Timbre {
    partials: &[(1.0, 1.0), (3.0, 0.2), (5.0, 0.08)],
    decay: 0.18,
};

/// One note: start (s), frequency (Hz), loudness, timbre.
type Note = (f32, f32, f32, Timbre);

// Equal-tempered pitches used below.
const C5: f32 = 523.25;
const E5: f32 = 659.25;
const G5: f32 = 783.99;
const A5: f32 = 880.0;
const B5: f32 = 987.77;
const C6: f32 = 1046.5;
const D6: f32 = 1174.66;
const E6: f32 = 1318.51;

fn score(id: &str) -> Vec<Note> {
    match id {
        // Ding-dong: a falling fifth on bells.
        "chime" => vec![(0.0, E6, 0.9, BELL), (0.22, A5, 0.8, BELL)],
        // One clear bell.
        "ding" => vec![(0.0, A5, 1.0, BELL)],
        // A quick wooden arpeggio.
        "marimba" => vec![
            (0.0, C5, 0.9, WOOD),
            (0.09, E5, 0.9, WOOD),
            (0.18, G5, 1.0, WOOD),
        ],
        // Two plucked strings, up a fifth.
        "pluck" => vec![(0.0, G5, 0.9, STRING), (0.14, D6, 0.8, STRING)],
        // A rising bubble: three quick glassy notes.
        "bubble" => vec![
            (0.0, C6, 0.6, GLASS),
            (0.05, D6, 0.6, GLASS),
            (0.1, E6, 0.7, GLASS),
        ],
        // A gentle harp arpeggio.
        "harp" => vec![
            (0.0, C5, 0.7, STRING),
            (0.08, E5, 0.7, STRING),
            (0.16, G5, 0.7, STRING),
            (0.24, C6, 0.8, STRING),
        ],
        // A soft major chord.
        "triad" => vec![
            (0.0, C5, 0.6, SOFT),
            (0.0, E5, 0.5, SOFT),
            (0.0, G5, 0.5, SOFT),
        ],
        // Two low knocks.
        "knock" => vec![(0.0, 180.0, 1.0, THUMP), (0.16, 165.0, 0.9, THUMP)],
        // Three falling bells.
        "bells" => vec![
            (0.0, G5, 0.8, BELL),
            (0.15, E5, 0.8, BELL),
            (0.3, C5, 0.9, BELL),
        ],
        // Two urgent beeps and a higher third.
        "alert" => vec![
            (0.0, A5, 0.9, BEEP),
            (0.16, A5, 0.9, BEEP),
            (0.32, B5, 1.0, BEEP),
        ],
        _ => vec![(0.0, A5, 1.0, BELL)],
    }
}

/// Renders a melody to mono samples at [`SAMPLE_RATE`], peak-normalized.
pub fn render(id: &str) -> Vec<f32> {
    let notes = score(id);
    let end = notes
        .iter()
        .map(|(start, _, _, t)| start + t.decay * 6.0)
        .fold(0.0f32, f32::max)
        .min(MAX_LENGTH.as_secs_f32());
    let len = (end * SAMPLE_RATE as f32) as usize;
    let mut out = vec![0.0f32; len];
    for (start, freq, gain, timbre) in notes {
        let first = (start * SAMPLE_RATE as f32) as usize;
        for (i, sample) in out.iter_mut().enumerate().skip(first) {
            let t = (i - first) as f32 / SAMPLE_RATE as f32;
            // 4 ms attack avoids a click; then an exponential decay.
            let env = (t / 0.004).min(1.0) * (-t / timbre.decay).exp();
            if env < 1e-4 && t > 0.01 {
                break;
            }
            let tone: f32 = timbre
                .partials
                .iter()
                .map(|(ratio, amp)| amp * (TAU * freq * ratio * t).sin() * (-t * ratio * 0.8).exp())
                .sum();
            *sample += gain * env * tone;
        }
    }
    let peak = out.iter().fold(0.0f32, |m, s| m.max(s.abs()));
    if peak > 0.0 {
        let k = 0.8 / peak;
        out.iter_mut().for_each(|s| *s *= k);
    }
    out
}

/// Every built-in melody, rendered once.
pub fn catalogue() -> HashMap<&'static str, Arc<[f32]>> {
    MELODIES
        .iter()
        .map(|id| (*id, Arc::from(render(id))))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalogue_describes_every_melody_id() {
        let ids: Vec<&str> = CATALOGUE.iter().map(|m| m.id).collect();
        assert_eq!(ids, MELODIES);
        for m in &CATALOGUE {
            assert!(m.length <= MAX_LENGTH, "{}", m.id);
            let secs = render(m.id).len() as f64 / f64::from(SAMPLE_RATE);
            assert!(secs <= m.length.as_secs_f64(), "{}: {secs} s", m.id);
        }
    }

    #[test]
    fn every_melody_is_short_audible_and_distinct() {
        let all = catalogue();
        assert!(all.len() >= 8);
        let mut fingerprints = Vec::new();
        for (id, samples) in &all {
            let secs = samples.len() as f32 / SAMPLE_RATE as f32;
            assert!((0.2..=2.0).contains(&secs), "{id}: {secs} s");
            let peak = samples.iter().fold(0.0f32, |m, s| m.max(s.abs()));
            assert!((0.7..=0.81).contains(&peak), "{id}: peak {peak}");
            // A coarse fingerprint: energy in ten slices.
            let slice = samples.len() / 10;
            let fp: Vec<i32> = samples
                .chunks(slice.max(1))
                .take(10)
                .map(|c| (c.iter().map(|s| s * s).sum::<f32>() * 10.0) as i32)
                .collect();
            assert!(
                !fingerprints.contains(&fp),
                "{id} sounds like another melody"
            );
            fingerprints.push(fp);
        }
    }
}
