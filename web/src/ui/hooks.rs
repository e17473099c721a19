//! Custom hooks.

use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use yew::prelude::*;

/// What the browser calls on each animation frame, with the frame's timestamp.
type FrameCallback = Closure<dyn FnMut(f64)>;

/// Calls `on_frame` with the frame's timestamp (milliseconds) on every animation frame
/// for as long as the component is mounted. The browser calls it at most once per
/// displayed frame, which is what bounds the simulator's rendering.
#[hook]
pub fn use_animation_frame(on_frame: Rc<dyn Fn(f64)>) {
    use_effect_with((), move |_| {
        let handle: Rc<RefCell<Option<i32>>> = Rc::new(RefCell::new(None));
        // The closure re-registers itself, so it needs a way to reach itself.
        let slot: Rc<RefCell<Option<FrameCallback>>> = Rc::new(RefCell::new(None));
        let again = slot.clone();
        let next = handle.clone();
        *slot.borrow_mut() = Some(Closure::new(move |timestamp: f64| {
            on_frame(timestamp);
            if let Some(callback) = again.borrow().as_ref() {
                *next.borrow_mut() = request(callback);
            }
        }));
        if let Some(callback) = slot.borrow().as_ref() {
            *handle.borrow_mut() = request(callback);
        }
        move || {
            if let (Some(window), Some(id)) = (web_sys::window(), handle.borrow_mut().take()) {
                // Failing to cancel only means one more frame runs.
                let _ = window.cancel_animation_frame(id);
            }
            // Dropping the closure breaks the cycle it forms with itself.
            slot.borrow_mut().take();
        }
    });
}

fn request(callback: &FrameCallback) -> Option<i32> {
    web_sys::window()?
        .request_animation_frame(callback.as_ref().unchecked_ref())
        .ok()
}

/// The simulation's intents. Every component is rendered inside the provider (`App`), so
/// a missing context is a bug in the page's structure, not something a user can cause.
#[hook]
pub fn use_sim() -> super::sim::Sim {
    use_context::<super::sim::Sim>().expect("components are rendered inside the Sim provider")
}
