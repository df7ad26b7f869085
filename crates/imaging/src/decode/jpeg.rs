//! JPEG: our own walk over the markers (size, sampling, scans, EXIF orientation, Adobe
//! transform) so that every limit is checked before libjpeg sees the data, then libjpeg-turbo
//! (mozjpeg) decoding with DCT scaling: at n/8 of the full size, the IDCT itself shrinks the
//! image, so a 4000×3000 photo needed at 320×240 costs about a sixty-fourth of a full decode
//! past the entropy decoding.

use image::metadata::Orientation;
use mozjpeg::{ColorSpace, Decompress};

use crate::raster::{Layout, Raster};
use crate::{ImagingError, Limits};

/// Progressive JPEGs with more scans than this are refused: each scan is a pass over every
/// coefficient, which a hostile file can repeat thousands of times. libjpeg's standard
/// progressive script uses 10 scans, mozjpeg's up to about 60.
pub(crate) const MAX_SCANS: u32 = 100;

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Header {
    pub(crate) width: u32,
    pub(crate) height: u32,
    /// (horizontal, vertical) sampling factor of each component.
    sampling: Vec<(u8, u8)>,
    progressive: bool,
    pub(crate) scans: u32,
    pub(crate) orientation: Orientation,
    /// An Adobe APP14 segment: CMYK samples are stored inverted.
    adobe: bool,
}

impl Header {
    pub(crate) fn parse(b: &[u8]) -> Result<Self, ImagingError> {
        let bad = |what: &str| ImagingError::Undecodable(format!("jpeg: {what}"));
        if !b.starts_with(&[0xFF, 0xD8]) {
            return Err(bad("no start of image"));
        }
        let mut header: Option<Self> = None;
        let (mut scans, mut orientation, mut adobe) = (0, None, false);
        let mut i = 2;
        while i < b.len() {
            if b[i] != 0xFF {
                i += 1; // stray byte between segments; libjpeg skips these too
                continue;
            }
            while i < b.len() && b[i] == 0xFF {
                i += 1;
            }
            let Some(&marker) = b.get(i) else { break };
            i += 1;
            match marker {
                0xD9 => break,
                0x01 | 0xD0..=0xD8 => continue,
                _ => {}
            }
            let Some(len) = b
                .get(i..i + 2)
                .map(|l| usize::from(u16::from_be_bytes([l[0], l[1]])))
            else {
                break;
            };
            if len < 2 {
                return Err(bad("segment length below 2"));
            }
            let seg = &b[(i + 2).min(b.len())..(i + len).min(b.len())];
            i += len;
            match marker {
                0xC0..=0xCF if !matches!(marker, 0xC4 | 0xC8 | 0xCC) && header.is_none() => {
                    header = Some(Self::from_sof(marker, seg)?);
                }
                0xE1 if orientation.is_none() && seg.starts_with(b"Exif\0\0") => {
                    orientation = Orientation::from_exif_chunk(&seg[6..]);
                }
                0xEE if seg.starts_with(b"Adobe") => adobe = true,
                0xDA => {
                    scans += 1;
                    i = skip_entropy_coded(b, i);
                }
                _ => {}
            }
        }
        let mut header = header.ok_or_else(|| bad("no frame header"))?;
        if scans == 0 {
            return Err(bad("no image data"));
        }
        header.scans = scans;
        header.orientation = orientation.unwrap_or(Orientation::NoTransforms);
        header.adobe = adobe;
        Ok(header)
    }

    fn from_sof(marker: u8, seg: &[u8]) -> Result<Self, ImagingError> {
        let bad = |what: &str| ImagingError::Undecodable(format!("jpeg frame header: {what}"));
        if seg.len() < 6 {
            return Err(bad("too short"));
        }
        let height = u32::from(u16::from_be_bytes([seg[1], seg[2]]));
        let width = u32::from(u16::from_be_bytes([seg[3], seg[4]]));
        let count = usize::from(seg[5]);
        if !(1..=4).contains(&count) || seg.len() < 6 + 3 * count {
            return Err(bad("bad component count"));
        }
        let sampling: Vec<(u8, u8)> = seg[6..6 + 3 * count]
            .chunks_exact(3)
            .map(|c| (c[1] >> 4, c[1] & 0x0F))
            .collect();
        if sampling
            .iter()
            .any(|&(h, v)| !(1..=4).contains(&h) || !(1..=4).contains(&v))
        {
            return Err(bad("bad sampling factor"));
        }
        Ok(Self {
            width,
            height,
            sampling,
            progressive: matches!(marker, 0xC2 | 0xC6 | 0xCA | 0xCE),
            scans: 0,
            orientation: Orientation::NoTransforms,
            adobe: false,
        })
    }

    /// Checks what the decoder will hold whatever the scale: with several scans (progressive,
    /// or baseline with separate component scans) libjpeg keeps every DCT coefficient.
    pub(crate) fn check(&self, limits: &Limits) -> Result<(), ImagingError> {
        if self.scans > MAX_SCANS {
            return Err(ImagingError::TooManyScans {
                scans: self.scans,
                max: MAX_SCANS,
            });
        }
        let needed = self.coefficient_bytes();
        if needed > limits.max_alloc_bytes {
            return Err(ImagingError::TooMuchMemory {
                needed,
                max: limits.max_alloc_bytes,
            });
        }
        Ok(())
    }

    fn coefficient_bytes(&self) -> u64 {
        if !self.progressive && self.scans <= 1 {
            return 0;
        }
        let hmax = u64::from(self.sampling.iter().map(|s| s.0).max().unwrap_or(1));
        let vmax = u64::from(self.sampling.iter().map(|s| s.1).max().unwrap_or(1));
        let blocks = |size: u32, factor: u8, max: u64| {
            let f = u64::from(factor);
            let samples = (u64::from(size) * f).div_ceil(max);
            samples.div_ceil(8).next_multiple_of(f)
        };
        let per_component = |&(h, v): &(u8, u8)| {
            blocks(self.width, h, hmax) * blocks(self.height, v, vmax) * 64 * 2
        };
        self.sampling.iter().map(per_component).sum()
    }
}

/// Skips the entropy-coded data after a scan header: up to the next marker that is neither a
/// stuffed 0xFF00 nor a restart marker.
fn skip_entropy_coded(b: &[u8], mut i: usize) -> usize {
    while let Some(pos) = b
        .get(i..)
        .and_then(|rest| rest.iter().position(|&x| x == 0xFF))
    {
        i += pos;
        match b.get(i + 1) {
            Some(0x00 | 0xD0..=0xD7) => i += 2,
            _ => return i,
        }
    }
    b.len()
}

/// The smallest DCT scale n/8 at which the decoded image is at least `need` pixels. libjpeg
/// rounds scaled sides up.
pub(crate) fn numerator(full: (u32, u32), need: (f64, f64)) -> u8 {
    let side = |len: u32, n: u8| f64::from((len * u32::from(n)).div_ceil(8));
    (1..=8u8)
        .find(|&n| side(full.0, n) >= need.0 - 1e-6 && side(full.1, n) >= need.1 - 1e-6)
        .unwrap_or(8)
}

/// Decodes at `numerator`/8 of the full size to RGB. libjpeg reports corrupt data by unwinding;
/// the caller catches that (see `guarded` in lib.rs).
pub(crate) fn decode(
    bytes: &[u8],
    header: &Header,
    numerator: u8,
    limits: &Limits,
) -> Result<Raster, ImagingError> {
    let n = u32::from(numerator);
    let (w, h) = (
        (header.width * n).div_ceil(8),
        (header.height * n).div_ceil(8),
    );
    let channels: u64 = if header.sampling.len() == 4 { 4 + 3 } else { 3 };
    let needed = u64::from(w) * u64::from(h) * channels + header.coefficient_bytes();
    if needed > limits.max_alloc_bytes {
        return Err(ImagingError::TooMuchMemory {
            needed,
            max: limits.max_alloc_bytes,
        });
    }
    let mut d = Decompress::new_mem(bytes).map_err(ImagingError::decode)?;
    d.scale(numerator);
    let cmyk = matches!(d.color_space(), ColorSpace::JCS_CMYK | ColorSpace::JCS_YCCK);
    let out = if cmyk {
        ColorSpace::JCS_CMYK
    } else {
        ColorSpace::JCS_RGB
    };
    let mut started = d.to_colorspace(out).map_err(ImagingError::decode)?;
    let (width, height) = (started.width(), started.height());
    let data: Vec<u8> = started.read_scanlines().map_err(ImagingError::decode)?;
    started.finish().map_err(ImagingError::decode)?;
    let data = if cmyk {
        cmyk_to_rgb(&data, header.adobe)
    } else {
        data
    };
    let (width, height) = (narrow(width)?, narrow(height)?);
    if data.len() != width as usize * height as usize * 3 {
        return Err(ImagingError::Undecodable(
            "jpeg: short pixel data".to_owned(),
        ));
    }
    Ok(Raster {
        width,
        height,
        layout: Layout::Rgb,
        data,
    })
}

/// CMYK to RGB as Pillow does (R = (255 − C)(255 − K)/255). Adobe files store the samples
/// inverted, so there R = C·K/255.
fn cmyk_to_rgb(cmyk: &[u8], inverted: bool) -> Vec<u8> {
    cmyk.chunks_exact(4)
        .flat_map(|p| {
            let [c, m, y, k] = [p[0], p[1], p[2], p[3]].map(|v| if inverted { v } else { 255 - v });
            let mix = |v: u8| ((u32::from(v) * u32::from(k) + 127) / 255) as u8;
            [mix(c), mix(m), mix(y)]
        })
        .collect()
}

fn narrow(v: usize) -> Result<u32, ImagingError> {
    u32::try_from(v).map_err(|_| ImagingError::Undecodable("jpeg: size out of range".to_owned()))
}
