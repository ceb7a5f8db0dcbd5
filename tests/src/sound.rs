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

/// A 16-bit FLAC file: STREAMINFO, then frames of 4,096 frames (the last
/// shorter) whose subframes are VERBATIM (the samples as they are), with
/// the header CRC-8 and frame CRC-16 the format asks for. Enough for a
/// decoder to read; no compression. An older Belfry kept users' own sounds
/// in their own format, and the tests that upgrade them need one.
pub fn flac(rate: u32, channels: u16, samples: &[i16]) -> Vec<u8> {
    const BLOCK: usize = 4096;
    let ch = usize::from(channels);
    let total = samples.len() / ch;
    let mut out = b"fLaC".to_vec();
    // Last metadata block, type 0 (STREAMINFO), 34 bytes.
    out.extend_from_slice(&[0x80, 0, 0, 34]);
    let mut info = Bits::default();
    // A fixed block size (min = max; the last block may be shorter), as
    // frames numbered by frame rather than by sample require.
    info.put(u64::try_from(BLOCK).unwrap(), 16);
    info.put(u64::try_from(BLOCK).unwrap(), 16);
    info.put(0, 24); // frame sizes unknown
    info.put(0, 24);
    info.put(u64::from(rate), 20);
    info.put(u64::from(channels) - 1, 3);
    info.put(15, 5); // 16 bits per sample
    info.put(u64::try_from(total).unwrap(), 36);
    out.extend_from_slice(&info.bytes);
    out.extend_from_slice(&[0; 16]); // MD5 unknown
    for (number, start) in (0..total).step_by(BLOCK).enumerate() {
        let len = BLOCK.min(total - start);
        let mut f = Bits::default();
        f.put(0b11_1111_1111_1110, 14); // sync
        f.put(0, 1);
        f.put(0, 1); // fixed block size: the frame number follows
        f.put(7, 4); // block size: 16 bits at the end of the header
        f.put(0, 4); // sample rate: STREAMINFO's
        f.put(u64::from(channels) - 1, 4); // independent channels
        f.put(4, 3); // 16 bits per sample
        f.put(0, 1);
        assert!(number < 128, "a longer sound than these tests write");
        f.put(u64::try_from(number).unwrap(), 8); // UTF-8 coded, one byte
        f.put(u64::try_from(len - 1).unwrap(), 16);
        let crc8 = crc8(&f.bytes);
        f.put(u64::from(crc8), 8);
        for c in 0..ch {
            f.put(0, 1);
            f.put(0b00_0001, 6); // VERBATIM
            f.put(0, 1); // no wasted bits
            for i in start..start + len {
                f.put(u64::from(samples[i * ch + c] as u16), 16);
            }
        }
        let crc16 = crc16(&f.bytes);
        f.put(u64::from(crc16), 16);
        out.extend_from_slice(&f.bytes);
    }
    out
}

/// Bits written most significant first, as FLAC reads them.
#[derive(Default)]
struct Bits {
    bytes: Vec<u8>,
    used: u8,
}

impl Bits {
    fn put(&mut self, value: u64, width: u8) {
        for k in (0..width).rev() {
            if self.used == 0 {
                self.bytes.push(0);
            }
            let bit = u8::from((value >> k) & 1 == 1);
            if let Some(last) = self.bytes.last_mut() {
                *last |= bit << (7 - self.used);
            }
            self.used = (self.used + 1) % 8;
        }
    }
}

/// FLAC's header check: CRC-8, polynomial x^8 + x^2 + x + 1, from zero.
fn crc8(data: &[u8]) -> u8 {
    let mut crc = 0u8;
    for &b in data {
        crc ^= b;
        for _ in 0..8 {
            crc = if crc & 0x80 != 0 {
                (crc << 1) ^ 0x07
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// FLAC's frame check: CRC-16, polynomial x^16 + x^15 + x^2 + 1, from zero.
fn crc16(data: &[u8]) -> u16 {
    let mut crc = 0u16;
    for &b in data {
        crc ^= u16::from(b) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x8005
            } else {
                crc << 1
            };
        }
    }
    crc
}
