//! Sound files the audio tests hand to the player, written by hand so each
//! test says exactly what it plays (no fixture files to keep in step).

/// A 16-bit PCM WAV file, RIFF header written by hand.
pub fn wav(rate: u32, channels: u16, samples: &[i16]) -> Vec<u8> {
    let data_len = u32::try_from(samples.len() * 2).unwrap();
    let mut out = Vec::with_capacity(44 + samples.len() * 2);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&channels.to_le_bytes());
    out.extend_from_slice(&rate.to_le_bytes());
    out.extend_from_slice(&(rate * u32::from(channels) * 2).to_le_bytes());
    out.extend_from_slice(&(channels * 2).to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    for s in samples {
        out.extend_from_slice(&s.to_le_bytes());
    }
    out
}

/// A 880 Hz sine beep, `secs` long, on every channel.
pub fn beep(rate: u32, channels: u16, secs: f64) -> Vec<i16> {
    let frames = (f64::from(rate) * secs) as usize;
    (0..frames)
        .flat_map(|i| {
            let t = i as f64 / f64::from(rate);
            let s = (t * 880.0 * std::f64::consts::TAU).sin() * 12_000.0;
            std::iter::repeat_n(s as i16, usize::from(channels))
        })
        .collect()
}
