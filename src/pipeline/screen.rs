//! The stateless first steps of extraction: frame a line, run the literal prefilter and, for a
//! line that passes, classify it. Nothing here depends on earlier lines (the stamp cache only
//! saves work), so `replay` runs it in screening workers ahead of the rest of
//! [`Extractor::extract`](super::Extractor::extract); the service runs both in one place.

use std::ops::Range;
use std::sync::Arc;

use super::awaiting::sender_key;
use crate::classify::{Classification, Classifier, Focus};
use crate::source::{self, Framed, InputFormat, StampCache, ndjson};
use crate::time::Millis;

/// What screening makes of one line. Spans are byte ranges of the line, so the result can go
/// to another thread with the line's bytes.
#[derive(Debug)]
pub(crate) enum Screened {
    /// Nothing but white space.
    Blank,
    /// Syslog text, possibly behind a collector prefix.
    Text {
        arrival: Option<Millis>,
        /// The collector prefix's sender, when it is UTF-8, with its [`sender_key`].
        sender: Option<(Range<usize>, u64)>,
        message: Range<usize>,
        /// A literal of a focused rule occurs in the message.
        prefiltered: bool,
        /// What a focused rule read in the line, when one did (never when not
        /// `prefiltered`).
        classified: Option<Box<Classified>>,
    },
    /// A JSON object (the span of the trimmed line), decoded later; `candidate` when its
    /// message holds a focused rule's literal or it may be a management host's event.
    Json { at: Range<usize>, candidate: bool },
}

/// A line a focused rule classified: its text (see [`source::decode_message`]) and what the
/// rule read.
#[derive(Debug)]
pub(crate) struct Classified {
    pub text: String,
    pub class: Classification,
}

/// Frames, prefilters and classifies lines for one rule set.
pub(crate) struct Screen {
    classifier: Arc<Classifier>,
    focus: Arc<Focus>,
    format: InputFormat,
    stamps: StampCache,
}

impl Screen {
    pub fn new(classifier: Arc<Classifier>, focus: Arc<Focus>, format: InputFormat) -> Screen {
        Screen {
            classifier,
            focus,
            format,
            stamps: StampCache::default(),
        }
    }

    /// Another screen for the same rules and format (with its own stamp cache).
    pub fn twin(&self) -> Screen {
        Screen::new(
            Arc::clone(&self.classifier),
            Arc::clone(&self.focus),
            self.format,
        )
    }

    pub fn format(&self) -> InputFormat {
        self.format
    }

    /// True when a literal of a focused rule occurs in `bytes` (see [`Focus`]).
    fn may_match(&self, bytes: &[u8]) -> bool {
        self.focus.may_match(bytes)
    }

    /// What a focused rule reads in `text`, if one does.
    pub fn classify(&self, text: &str) -> Option<Classification> {
        self.classifier.classify_focused(&self.focus, text)
    }

    pub fn screen(&mut self, line: &[u8]) -> Screened {
        match source::frame(line, self.format, &mut self.stamps) {
            Framed::Blank => Screened::Blank,
            Framed::Text {
                arrival,
                sender,
                message,
            } => {
                let prefiltered = self.may_match(message);
                let classified = if prefiltered {
                    let text = source::decode_message(message);
                    self.classify(&text).map(|class| {
                        Box::new(Classified {
                            text: text.into_owned(),
                            class,
                        })
                    })
                } else {
                    None
                };
                Screened::Text {
                    arrival,
                    // A sender is nearly always an ASCII address or name: checked as
                    // such first, a fraction of what full UTF-8 validation costs on a short
                    // slice (5% of a screening worker's instructions).
                    sender: sender
                        .filter(|s| s.is_ascii() || std::str::from_utf8(s).is_ok())
                        .map(|s| (span(line, s), sender_key(s))),
                    message: span(line, message),
                    prefiltered,
                    classified,
                }
            }
            Framed::Json(raw) => Screened::Json {
                at: span(line, raw),
                candidate: self.may_match(ndjson::message_onward(raw))
                    || ndjson::may_be_host_event(raw),
            },
        }
    }
}

/// Where `part`, a sub-slice of `line`, lies in it.
fn span(line: &[u8], part: &[u8]) -> Range<usize> {
    let start = part.as_ptr() as usize - line.as_ptr() as usize;
    debug_assert!(start + part.len() <= line.len(), "a sub-slice of the line");
    start..start + part.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::SignalKind;
    use crate::config::{RuleSource, load};

    fn screen(format: InputFormat) -> Screen {
        let loaded = load(&RuleSource::new(None), None).expect("built-in rules load");
        let kinds = [SignalKind::Reload, SignalKind::Boot];
        let focus = Arc::new(loaded.classifier.focus(&kinds));
        Screen::new(Arc::new(loaded.classifier), focus, format)
    }

    #[test]
    fn spans_point_into_the_line_and_a_reload_is_classified() {
        let mut s = screen(InputFormat::Auto);
        let line = b"2026-06-01T00:00:00.000Z 10.0.0.1 <189>1: r1: Jun  1 00:00:00 UTC: %SYS-5-RELOAD: Reload requested by admin on vty0. Reload Reason: Reload Command.";
        let Screened::Text {
            arrival,
            sender,
            message,
            prefiltered,
            classified,
        } = s.screen(line)
        else {
            panic!("syslog text");
        };
        assert!(arrival.is_some());
        let (at, key) = sender.expect("collector sender");
        assert_eq!(&line[at], b"10.0.0.1");
        assert_eq!(key, sender_key(b"10.0.0.1"));
        assert!(line[message].starts_with(b"<189>1: r1:"));
        assert!(prefiltered);
        let Classified { text, class } = *classified.expect("a reload rule reads it");
        assert!(text.starts_with("<189>1: r1:") && text.ends_with("Reload Command."));
        assert_eq!(class.kind, SignalKind::Reload);
        assert_eq!(class.fields.user.as_deref(), Some("admin"));
    }

    /// The sender is kept when it is UTF-8, ASCII or not, and dropped when it is not.
    #[test]
    fn a_sender_is_kept_only_as_utf8() {
        let mut s = screen(InputFormat::Auto);
        let rest = " <189>1: r1: Jun  1 00:00:00 UTC: %LINK-3-UPDOWN: Interface Gi0/1, down";
        for (sender, kept) in [
            (&b"10.0.0.1"[..], true),
            ("r\u{f6}uter-1".as_bytes(), true),
            (&b"r\xf6uter-1"[..], false),
        ] {
            let mut line = b"2026-06-01T00:00:00.000Z ".to_vec();
            line.extend_from_slice(sender);
            line.extend_from_slice(rest.as_bytes());
            let Screened::Text { sender: got, .. } = s.screen(&line) else {
                panic!("syslog text");
            };
            assert_eq!(
                got.map(|(at, key)| (line[at].to_vec(), key)),
                kept.then(|| (sender.to_vec(), sender_key(sender))),
                "{sender:?}"
            );
        }
    }

    #[test]
    fn noise_is_not_classified_and_json_and_blank_are_told_apart() {
        let mut s = screen(InputFormat::Auto);
        let Screened::Text {
            prefiltered,
            classified,
            ..
        } = s.screen(b"<189>1: r1: Jun  1 00:00:00 UTC: %LINK-3-UPDOWN: Interface Gi0/1, changed state to up")
        else {
            panic!("syslog text");
        };
        assert!(!prefiltered && classified.is_none());
        let line = b"  {\"message\":\"x\"}";
        assert!(
            matches!(s.screen(line), Screened::Json { at, candidate: false } if at == (2..line.len()))
        );
        let reload =
            br#"{"message":"<189>1: r1: Jun  1 00:00:00 UTC: %SYS-5-RELOAD: Reload requested"}"#;
        assert!(matches!(
            s.screen(reload),
            Screened::Json {
                candidate: true,
                ..
            }
        ));
        assert!(matches!(s.screen(b"   "), Screened::Blank));
    }
}
