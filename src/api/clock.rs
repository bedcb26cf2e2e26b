//! The emulator's clock through the admin API: read it, freeze it, move it forward (for every
//! chat, or for one), and have the work that fell due run before the answer.

use serde::Serialize;

use super::error::ApiError;
use super::extract::{ChatPath, JsonBody};
use super::{Answer, State};
use crate::clock::ClockView;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ClockChanged {
    #[serde(flatten)]
    clock: ClockView,
    /// The pieces of work that ran because they fell due.
    ran: usize,
}

#[derive(Serialize)]
struct ChatClock {
    /// The chat's own time.
    now: i64,
    ran: usize,
}

/// `GET /__admin/clock`.
pub async fn get_clock(st: State) -> Answer<ClockView> {
    Answer(st.store.clock().view())
}

/// `POST /__admin/clock` with `{"advance": "30m"}` and/or `{"freeze": true|false}`.
pub async fn set_clock(st: State, body: JsonBody) -> Result<Answer<impl Serialize>, ApiError> {
    let f = body.fields();
    let freeze = f.optional_bool("freeze")?;
    let advance = f.optional_duration("advance")?;
    if freeze.is_none() && advance.is_none() {
        return Err(ApiError::missing(
            "advance or freeze is required, e.g. {\"advance\":\"5s\"} or {\"freeze\":true}",
        ));
    }
    let (clock, ran) = st.store.set_clock(freeze, advance).await?;
    Ok(Answer(ClockChanged { clock, ran }))
}

/// `POST /__admin/chats/{id}/clock` with `{"advance": "2s"}`: moves one chat's time.
pub async fn advance_chat(
    st: State,
    id: ChatPath,
    body: JsonBody,
) -> Result<Answer<impl Serialize>, ApiError> {
    let Some(ms) = body.fields().optional_duration("advance")? else {
        return Err(ApiError::missing("advance is required, e.g. {\"advance\":\"2s\"}"));
    };
    let advanced = st.store.advance_chat(&id.0, ms).await?;
    Ok(Answer(ChatClock { now: advanced.now, ran: advanced.ran }))
}
