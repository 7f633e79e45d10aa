//! Cutting a TCP byte stream into STUN messages and padded ChannelData frames
//! (RFC 8656 section 12.5).

/// Why a stream cannot be framed: the connection is closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameError {
    /// Neither STUN (first byte 0-3) nor ChannelData (0x40-0x7F).
    NotTurn(u8),
    /// A STUN length that is not a multiple of 4.
    Unaligned(u16),
}

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FrameError::NotTurn(b) => {
                write!(f, "stream byte 0x{b:02x} starts no STUN or ChannelData")
            }
            FrameError::Unaligned(l) => write!(f, "STUN length {l} is not a multiple of 4"),
        }
    }
}

/// The size of the first frame in `buf` (padding included) once its header is there, whether
/// or not the whole frame has arrived; `Ok(None)` if the header is incomplete.
pub fn frame_size(buf: &[u8]) -> Result<Option<usize>, FrameError> {
    let (Some(&first), Some(&l0), Some(&l1)) = (buf.first(), buf.get(2), buf.get(3)) else {
        return Ok(None);
    };
    let len = u16::from_be_bytes([l0, l1]);
    match first {
        0..=3 => {
            if len % 4 != 0 {
                return Err(FrameError::Unaligned(len));
            }
            Ok(Some(20 + usize::from(len)))
        }
        0x40..=0x7F => Ok(Some((4 + usize::from(len) + 3) & !3)),
        b => Err(FrameError::NotTurn(b)),
    }
}

/// The length of the first complete frame in `buf` (padding included), `Ok(None)` if more bytes
/// are needed.
pub fn frame_len(buf: &[u8]) -> Result<Option<usize>, FrameError> {
    Ok(frame_size(buf)?.filter(|total| buf.len() >= *total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames() {
        assert_eq!(frame_len(&[0, 1, 0]), Ok(None));
        let mut stun = vec![0, 1, 0, 4];
        stun.extend_from_slice(&[0; 20]);
        assert_eq!(frame_len(&stun), Ok(Some(24)));
        assert_eq!(frame_len(&stun[..23]), Ok(None));
        assert_eq!(frame_len(&[0, 1, 0, 3]), Err(FrameError::Unaligned(3)));
        // ChannelData of 5 bytes takes 12 on a stream.
        let cd = [0x40, 0, 0, 5, 1, 2, 3, 4, 5, 0, 0, 0, 0x40];
        assert_eq!(frame_len(&cd), Ok(Some(12)));
        assert_eq!(frame_len(&cd[..11]), Ok(None));
        assert_eq!(frame_len(&[0x16, 3, 1, 0]), Err(FrameError::NotTurn(0x16)));
        // The size is known from the header alone.
        assert_eq!(frame_size(&cd[..4]), Ok(Some(12)));
        assert_eq!(frame_size(&[0, 1, 0xff, 0xfc]), Ok(Some(20 + 65532)));
        assert_eq!(frame_size(&[0, 1, 0]), Ok(None));
    }
}
