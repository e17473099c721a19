//! The lessons: pick one to run it under its own profile or the other one, watch, and
//! read why it went the way it did.

use broker_core::Profile;
use broker_wasm::lessons::{self, Lesson};
use yew::prelude::*;

use crate::model::driver::RunningLesson;
use crate::ui::hooks::use_sim;

#[derive(Properties, PartialEq)]
pub struct LessonsProps {
    pub lesson: Option<RunningLesson>,
    pub now: u64,
}

fn other(profile: Profile) -> Profile {
    match profile {
        Profile::AwsIot => Profile::Standard,
        Profile::Standard => Profile::AwsIot,
    }
}

#[component]
pub fn LessonsPanel(props: &LessonsProps) -> Html {
    let sim = use_sim();
    let all = use_memo((), |_| lessons::all());
    let run = |id: &'static str, profile: Profile| {
        let sim = sim.clone();
        Callback::from(move |_: MouseEvent| sim.start_lesson(id, profile))
    };
    let current = props
        .lesson
        .as_ref()
        .and_then(|r| all.iter().find(|l| l.id == r.id).map(|l| (r, l)));
    html! {
        <details class="panel lessons" open=true>
            <summary><h2>{ "Lessons" }</h2></summary>
            if let Some((running, lesson)) = current {
                <Current running={running.clone()} lesson={LessonRef(lesson.clone())} now={props.now} />
            }
            <ol>
                { for all.iter().map(|l| html! {
                    <li data-testid="lesson" data-lesson={l.id}>
                        <span>{ l.title }</span>
                        <button data-testid="lesson-run" onclick={run(l.id, l.profile)}>
                            { format!("run ({})", l.profile.name()) }
                        </button>
                        <button data-testid="lesson-run-other" class="secondary"
                            onclick={run(l.id, other(l.profile))}>
                            { format!("under {}", other(l.profile).name()) }
                        </button>
                    </li>
                }) }
            </ol>
        </details>
    }
}

#[derive(Properties, PartialEq)]
struct CurrentProps {
    running: RunningLesson,
    lesson: LessonRef,
    now: u64,
}

/// Lessons are compared by id: their content never changes while the page runs.
#[derive(Clone)]
struct LessonRef(Lesson);

impl PartialEq for LessonRef {
    fn eq(&self, other: &Self) -> bool {
        self.0.id == other.0.id
    }
}

#[component]
fn Current(props: &CurrentProps) -> Html {
    let lesson = &props.lesson.0;
    let done = props.now >= props.running.ends_at;
    let progress = (props.now.min(props.running.ends_at) * 100)
        .checked_div(props.running.ends_at)
        .unwrap_or(100);
    html! {
        <div class="current-lesson" data-testid="current-lesson" data-lesson={lesson.id}
            data-done={done.to_string()}>
            <h3>{ lesson.title }<span class="muted">{ format!(" under {}", props.running.profile.name()) }</span></h3>
            <p>{ lesson.watch }</p>
            <progress max="100" value={progress.to_string()}></progress>
            if done {
                <p class="explanation" data-testid="lesson-explanation">{ lesson.explanation }</p>
            } else {
                <p class="muted">{ "Running… the explanation appears when the script ends." }</p>
            }
        </div>
    }
}
