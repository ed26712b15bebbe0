//! Several sinks fed from one pass over the timeline, like tee(1): every event goes to
//! each sink in turn. ("Fan-out" in this project is a Socket.IO broadcast's spread.)

use crate::timeline::{Event, Sink};

pub struct Tee<'a>(pub Vec<&'a mut (dyn Sink + Send)>);

impl Sink for Tee<'_> {
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
