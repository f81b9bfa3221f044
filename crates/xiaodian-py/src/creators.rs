//! Creator scores on the wire: the `creator_scores` rows the service reads, encoded as
//! `GetCreatorScoreResponse` and `ListTopCreatorsResponse` without building Python messages.

use prost::Message;

use crate::proto;

/// One stored score joined with its run, in the column order of
/// `xiaodian.creators.store.SCORE_COLUMNS`.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreRow {
    pub creator_id: String,
    pub period: String,
    pub cohort: String,
    pub score: f64,
    pub gmv_percentile: f64,
    pub sales_percentile: f64,
    pub followers_percentile: f64,
    pub settled_gmv_fen: i64,
    pub sales_score: f64,
    pub effective_followers: i64,
    pub rank: u32,
    pub cohort_size: u32,
    pub tier: i32,
    pub gmv_weight_ppm: u32,
    pub sales_weight_ppm: u32,
    pub followers_weight_ppm: u32,
    pub scored_at_us: i64,
}

/// A `google.protobuf.Timestamp` of microseconds since the epoch (floor, as protobuf's
/// `FromMicroseconds`).
pub fn timestamp_of_us(us: i64) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: us.div_euclid(1_000_000),
        nanos: (us.rem_euclid(1_000_000) * 1_000) as i32,
    }
}

fn score(row: ScoreRow) -> proto::CreatorScore {
    proto::CreatorScore {
        creator_id: row.creator_id,
        period: row.period,
        cohort: row.cohort,
        score: row.score,
        gmv_percentile: row.gmv_percentile,
        sales_percentile: row.sales_percentile,
        followers_percentile: row.followers_percentile,
        settled_gmv_fen: row.settled_gmv_fen,
        sales_score: row.sales_score,
        effective_followers: row.effective_followers,
        rank: row.rank,
        cohort_size: row.cohort_size,
        tier: row.tier,
        weights: Some(proto::CreatorScoreWeights {
            gmv_weight_ppm: row.gmv_weight_ppm,
            sales_weight_ppm: row.sales_weight_ppm,
            followers_weight_ppm: row.followers_weight_ppm,
        }),
        scored_at: Some(timestamp_of_us(row.scored_at_us)),
    }
}

/// The encoded `GetCreatorScoreResponse` of one row.
pub fn get_creator_score_response(row: ScoreRow) -> Vec<u8> {
    proto::GetCreatorScoreResponse {
        score: Some(score(row)),
    }
    .encode_to_vec()
}

/// The encoded `ListTopCreatorsResponse` of a page of rows, best rank first.
pub fn list_top_creators_response(
    rows: Vec<ScoreRow>,
    next_page_token: String,
    cohort_size: u32,
) -> Vec<u8> {
    proto::ListTopCreatorsResponse {
        scores: rows.into_iter().map(score).collect(),
        next_page_token,
        cohort_size,
    }
    .encode_to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_floor_like_protobuf() {
        assert_eq!(
            timestamp_of_us(1_500_001),
            prost_types::Timestamp {
                seconds: 1,
                nanos: 500_001_000
            }
        );
        assert_eq!(
            timestamp_of_us(-1),
            prost_types::Timestamp {
                seconds: -1,
                nanos: 999_999_000
            }
        );
    }
}
