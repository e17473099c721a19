//! Sharing: a link that replays this run, the trace as a JSON download, importing one,
//! and starting over.

use web_sys::HtmlInputElement;
use yew::prelude::*;

use crate::ui::dom;
use crate::ui::hooks::use_sim;
use crate::ui::sim::Exported;
use crate::ui::state::{FeedStatus, Notice};

#[derive(Properties, PartialEq)]
pub struct ShareProps {
    /// The live view or recording shown, if any: "export trace" then saves the recording.
    pub feed: Option<FeedStatus>,
}

#[component]
pub fn SharePanel(props: &ShareProps) -> Html {
    let sim = use_sim();
    let link = {
        let sim = sim.clone();
        Callback::from(move |_: MouseEvent| {
            let url = sim.share_link();
            sim.notice(Some(Notice {
                text: format!("The address bar now replays this run: {url}"),
                error: false,
            }));
        })
    };
    let export = {
        let sim = sim.clone();
        Callback::from(move |_: MouseEvent| {
            let saved = match sim.export() {
                Exported::Text(name, text) => dom::download(name, &text),
                Exported::Url(url) => dom::download_url(&url, "brokerlab-recording.jsonl"),
            };
            if saved.is_err() {
                sim.notice(Some(Notice {
                    text: "the browser refused the download".into(),
                    error: true,
                }));
            }
        })
    };
    let import = {
        let sim = sim.clone();
        Callback::from(move |e: Event| {
            let input: HtmlInputElement = e.target_unchecked_into();
            let Some(file) = input.files().and_then(|files| files.get(0)) else {
                return;
            };
            let sim = sim.clone();
            dom::read_text(&file, move |text| match text {
                Ok(json) => sim.import(&json),
                Err(why) => sim.notice(Some(Notice {
                    text: why,
                    error: true,
                })),
            });
            // Picking the same file again must fire `change` again.
            input.set_value("");
        })
    };
    let reset = Callback::from(move |_: MouseEvent| sim.reset());
    html! {
        <div class="share">
            <button data-testid="share-link" onclick={link}>{ "share link" }</button>
            <button data-testid="export" onclick={export}
                data-href={props.feed.as_ref().and_then(|f| f.export_url.clone())}
                title="the simulated run as JSON; while attached, the server's --record file">
                { "export trace" }
            </button>
            <label class="button" title="a simulator trace, or a recording of brokerlab serve">
                { "import trace" }
                <input type="file" accept="application/json,.json,.jsonl" data-testid="import"
                    onchange={import} />
            </label>
            <button data-testid="reset" class="secondary" onclick={reset}>{ "reset" }</button>
        </div>
    }
}
