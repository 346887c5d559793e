//! The html sink.
use crate::data::RunData;

pub(crate) fn page(data: &RunData) -> String {
    format!("<p>{}</p>", data.experiment)
}
