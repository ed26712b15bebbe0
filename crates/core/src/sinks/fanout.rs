//! Several sinks fed from one pass over the timeline.

use crate::timeline::{Event, Sink};

pub struct Fanout<'a>(pub Vec<&'a mut (dyn Sink + Send)>);

impl Sink for Fanout<'_> {
    fn event(&mut self, e: &Event, line: &[u8]) -> std::io::Result<bool> {
        let mut go = true;
        for s in &mut self.0 {
            go &= s.event(e, line)?;
        }
        Ok(go)
    }
    fn tick(&mut self, now: i64) -> std::io::Result<()> {
        self.0.iter_mut().try_for_each(|s| s.tick(now))
    }
    fn finish(&mut self) -> std::io::Result<()> {
        self.0.iter_mut().try_for_each(|s| s.finish())
    }
}
