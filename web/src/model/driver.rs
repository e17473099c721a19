//! The simulator's clock around a world: play, pause, step and speed, a lesson's script
//! of actions still to come, and reconfiguring by replay.

use std::collections::VecDeque;

use broker_core::{Config, Profile};
use broker_wasm::lessons::Lesson;
use broker_wasm::{Action, Scenario, TimedAction, World};

use super::clock::Clock;

/// A lesson being shown.
#[derive(Clone, Debug, PartialEq)]
pub struct RunningLesson {
    /// Its id.
    pub id: &'static str,
    /// The profile it runs under.
    pub profile: Profile,
    /// When its script ends, in virtual milliseconds.
    pub ends_at: u64,
}

/// A world, its clock, and what is scheduled to happen in it.
#[derive(Debug)]
pub struct Driver {
    world: World,
    /// Play, pause and speed.
    pub clock: Clock,
    /// Scripted actions not yet applied, in time order.
    script: VecDeque<TimedAction>,
    lesson: Option<RunningLesson>,
}

impl Driver {
    /// A driver for an empty world, playing at normal speed.
    pub fn new(scenario: &Scenario) -> Self {
        Driver {
            world: World::new(scenario),
            clock: Clock::default(),
            script: VecDeque::new(),
            lesson: None,
        }
    }

    /// The world.
    pub fn world(&self) -> &World {
        &self.world
    }

    /// The world, for reading its trace and change lists.
    pub fn world_mut(&mut self) -> &mut World {
        &mut self.world
    }

    /// The lesson being shown, if any.
    pub fn lesson(&self) -> Option<&RunningLesson> {
        self.lesson.as_ref()
    }

    /// Applies a learner's action now.
    pub fn apply(&mut self, action: Action) -> Result<(), String> {
        self.world.apply(action).map_err(|e| e.to_string())
    }

    /// Real time passed: `real_ms` milliseconds since the last frame.
    pub fn tick(&mut self, real_ms: f64) -> Result<(), String> {
        let ms = self.clock.tick(real_ms);
        if ms == 0 {
            return Ok(());
        }
        self.advance_by(ms)
    }

    /// Pauses and moves to the next instant anything happens, a scripted action included.
    pub fn step(&mut self) -> Result<(), String> {
        self.clock.playing = false;
        let scripted = self.script.front().map(|a| a.at);
        let next = match (self.world.next_event_at(), scripted) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        match next {
            Some(at) => self.advance_to(at.max(self.world.now())),
            None => Ok(()),
        }
    }

    /// Moves virtual time forward, applying scripted actions at their times.
    pub fn advance_by(&mut self, ms: u64) -> Result<(), String> {
        self.advance_to(self.world.now().saturating_add(ms))
    }

    fn advance_to(&mut self, to: u64) -> Result<(), String> {
        while let Some(next) = self.script.front().filter(|a| a.at <= to) {
            let at = next.at.max(self.world.now());
            let action = next.action.clone();
            self.script.pop_front();
            self.world
                .apply_at(at, action)
                .map_err(|e| format!("lesson step refused: {e}"))?;
        }
        self.world.advance_to(to);
        Ok(())
    }

    /// Starts a lesson from an empty world under `profile`; its actions play out as the
    /// clock runs.
    pub fn start_lesson(&mut self, lesson: &Lesson, profile: Profile) {
        let scenario = lesson.scenario(profile);
        self.world = World::new(&scenario);
        self.script = scenario.actions.into();
        self.clock.restart();
        self.clock.playing = true;
        self.lesson = Some(RunningLesson {
            id: lesson.id,
            profile,
            ends_at: lesson.duration_ms,
        });
    }

    /// Replaces the world with a scenario replayed up to `until`, and forgets any lesson.
    pub fn load(&mut self, scenario: &Scenario, until: u64) -> Result<(), String> {
        scenario.policy_set().map_err(|e| e.to_string())?;
        let world = World::replay(scenario, Some(until)).map_err(|e| e.to_string())?;
        self.world = world;
        self.script.clear();
        self.lesson = None;
        Ok(())
    }

    /// Installs a world replayed elsewhere (an imported trace).
    pub fn replace(&mut self, world: World) {
        self.world = world;
        self.script.clear();
        self.lesson = None;
    }

    /// Changes the broker's configuration or the latency: the same actions are replayed
    /// under the new settings up to the present, so the learner sees what this broker
    /// would have done. A lesson's remaining script stays scheduled.
    pub fn reconfigure(&mut self, config: Config, latency_ms: u64) -> Result<(), String> {
        let scenario = Scenario {
            config,
            latency_ms,
            ..self.world.scenario().clone()
        };
        let world = World::replay(&scenario, Some(self.world.now())).map_err(|e| e.to_string())?;
        self.world = world;
        if let Some(lesson) = self.lesson.as_mut() {
            lesson.profile = scenario.config.profile;
        }
        Ok(())
    }

    /// Attaches a policy document to every principal (or removes it, with `None`), and
    /// replays the same actions under it up to the present. A malformed document is
    /// refused with its line, column and reason, and the world stays as it was.
    pub fn set_policy(
        &mut self,
        principal: Option<&str>,
        policy: Option<String>,
    ) -> Result<(), String> {
        let mut scenario = self.world.scenario().clone();
        match (principal, policy) {
            (None, policy) => scenario.policy = policy,
            (Some(p), Some(policy)) => {
                scenario.principal_policies.insert(p.to_owned(), policy);
            }
            (Some(p), None) => {
                scenario.principal_policies.remove(p);
            }
        }
        scenario.policy_set().map_err(|e| e.to_string())?;
        let world = World::replay(&scenario, Some(self.world.now())).map_err(|e| e.to_string())?;
        self.world = world;
        Ok(())
    }

    /// An empty world with the current settings.
    pub fn reset(&mut self) {
        let scenario = Scenario {
            actions: Vec::new(),
            ..self.world.scenario().clone()
        };
        self.world = World::new(&scenario);
        self.script.clear();
        self.lesson = None;
        self.clock.restart();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use broker_wasm::lessons;

    use crate::model::clock::MAX_FRAME_MS;

    #[test]
    fn a_lesson_plays_out_as_the_clock_runs_and_matches_its_replay() {
        let lesson = lessons::find("duplicate-client-id").expect("lesson");
        let mut d = Driver::new(&Scenario::new(Config::default()));
        d.start_lesson(&lesson, Profile::AwsIot);
        assert_eq!(
            d.world().device_count(),
            0,
            "nothing happens before time passes"
        );
        // Frames of 16 ms at half speed, as a browser would run them.
        d.clock.speed = 0.5;
        while d.world().now() < lesson.duration_ms {
            d.tick(16.0).expect("tick");
        }
        let replayed = World::replay(&lesson.scenario(Profile::AwsIot), Some(d.world().now()))
            .expect("replay");
        assert_eq!(replayed.devices(), d.world().devices());
        assert_eq!(d.world().scenario().actions, lesson.actions);
    }

    #[test]
    fn pausing_stops_the_clock_and_step_moves_to_the_next_event() {
        let mut d = Driver::new(&Scenario::new(Config::default()));
        d.apply(Action::Spawn {
            spec: broker_wasm::DeviceSpec::new("a"),
        })
        .expect("spawn");
        d.apply(Action::Connect { device: 0 }).expect("connect");
        d.clock.playing = false;
        d.tick(1000.0).expect("tick");
        assert_eq!(d.world().now(), 0);
        d.step().expect("step");
        assert_eq!(d.world().now(), 20, "CONNECT arrives after the latency");
    }

    #[test]
    fn a_policy_replays_the_run_and_a_malformed_one_changes_nothing() {
        let mut d = Driver::new(&Scenario::new(Config::for_profile(Profile::Standard)));
        d.apply(Action::Spawn {
            spec: broker_wasm::DeviceSpec::new("a"),
        })
        .expect("spawn");
        d.apply(Action::Connect { device: 0 }).expect("connect");
        d.advance_by(100).expect("advance");
        d.apply(Action::Subscribe {
            device: 0,
            filter: "cmd/a".into(),
            qos: 1,
            options: Default::default(),
        })
        .expect("subscribe");
        d.advance_by(100).expect("advance");
        let err = d
            .set_policy(None, Some("{\n  \"Statement\": [\n".into()))
            .expect_err("malformed");
        assert!(err.contains("line"), "{err}");
        assert_eq!(d.world().scenario().policy, None, "the old scenario stays");
        let now = d.world().now();
        let policy = broker_wasm::lessons::SUBSCRIBE_DENIED_POLICY;
        d.set_policy(None, Some(policy.into())).expect("policy");
        assert_eq!(d.world().now(), now);
        assert_eq!(d.world().scenario().policy.as_deref(), Some(policy));
        let denied: Vec<String> = d
            .world_mut()
            .poll_trace()
            .into_iter()
            .filter_map(|n| match n.entry {
                broker_wasm::TraceEntry::PolicyDenied { reason, .. } => Some(reason),
                _ => None,
            })
            .collect();
        assert_eq!(
            denied,
            ["policy: iot:Subscribe on topicfilter/cmd/a denied: no statement allows it (default deny)"]
        );
        d.reconfigure(Config::for_profile(Profile::AwsIot), 20)
            .expect("reconfigure");
        assert_eq!(d.world().scenario().policy.as_deref(), Some(policy), "kept");
        d.set_policy(None, None).expect("clear");
        assert_eq!(d.world().scenario().policy, None);
    }

    #[test]
    fn a_hidden_tab_does_not_fast_forward() {
        let mut d = Driver::new(&Scenario::new(Config::default()));
        d.tick(60_000.0).expect("tick");
        assert_eq!(d.world().now(), MAX_FRAME_MS as u64);
    }

    #[test]
    fn reconfiguring_replays_the_same_actions_under_the_other_profile() {
        let mut d = Driver::new(&Scenario::new(Config::for_profile(Profile::Standard)));
        for device in 0..2 {
            let spec = broker_wasm::DeviceSpec::new("twin");
            d.apply(Action::Spawn { spec }).expect("spawn");
            d.apply(Action::Connect { device }).expect("connect");
            // aws-iot accepts one CONNECT per second per client id.
            d.advance_by(1_100).expect("advance");
        }
        let now = d.world().now();
        d.reconfigure(Config::for_profile(Profile::AwsIot), 20)
            .expect("reconfigure");
        assert_eq!(d.world().now(), now);
        let d6 = d
            .world_mut()
            .poll_trace()
            .iter()
            .any(|n| matches!(&n.entry, broker_wasm::TraceEntry::Rule { code: "D6", .. }));
        assert!(d6);
    }
}
