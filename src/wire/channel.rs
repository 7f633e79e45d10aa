//! TURN ChannelData (RFC 8656 section 12.4).

use super::WireError;

/// Size of the ChannelData header (channel number and length).
pub const CHANNEL_HEADER_LEN: usize = 4;

/// A ChannelData message borrowing from the payload it was parsed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelData<'a> {
    /// Channel number, 0x4000-0x7FFF (see [`is_channel_number`]).
    pub channel: u16,
    /// The application data; its length is the header's length field.
    pub data: &'a [u8],
    /// Header, data and (on streams) padding: how many bytes this message took.
    pub wire_len: usize,
}

/// Channel numbers 0x4000-0x7FFF (RFC 5766 allowed the whole range, RFC 8656 assigns
/// 0x4000-0x4FFF and reserves the rest; both occur in the wild).
pub fn is_channel_number(n: u16) -> bool {
    (0x4000..=0x7FFF).contains(&n)
}

impl<'a> ChannelData<'a> {
    /// Parse a ChannelData message at the start of `buf`. On a stream (`padded`), the message is
    /// followed by padding to a multiple of four bytes, which is not counted in its length.
    pub fn parse(buf: &'a [u8], padded: bool) -> Result<ChannelData<'a>, WireError> {
        let header = buf.get(..CHANNEL_HEADER_LEN).ok_or(WireError::Truncated {
            what: "ChannelData header",
            needed: CHANNEL_HEADER_LEN as u32,
            got: buf.len() as u32,
        })?;
        let channel = u16::from_be_bytes([header[0], header[1]]);
        if !is_channel_number(channel) {
            return Err(WireError::NotStun {
                reason: "not a channel number",
            });
        }
        let len = u32::from(u16::from_be_bytes([header[2], header[3]]));
        let end = CHANNEL_HEADER_LEN as u32 + len;
        let data = buf
            .get(CHANNEL_HEADER_LEN..end as usize)
            .ok_or(WireError::Truncated {
                what: "ChannelData payload",
                needed: end,
                got: buf.len() as u32,
            })?;
        let wire_len = if padded {
            ((end + 3) & !3) as usize
        } else {
            end as usize
        };
        Ok(ChannelData {
            channel,
            data,
            wire_len: wire_len.min(buf.len()),
        })
    }
}
