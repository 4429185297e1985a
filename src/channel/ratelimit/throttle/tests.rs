use super::*;
use crate::channel::ratelimit::{GroupLimit, RateLimits};
use chrono::TimeZone;

fn at(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_800_000_000 + secs, 0).unwrap()
}

#[test]
fn a_paused_chat_stays_paused_until_the_given_time_and_no_longer() {
    let throttle = Throttle::new(&ChannelLimit::unlimited());
    throttle.pause("chat-1", at(10));
    assert_eq!(throttle.paused_until("chat-1", at(0)), Some(at(10)));
    assert_eq!(throttle.paused_until("chat-2", at(0)), None);
    assert_eq!(throttle.paused_until("chat-1", at(10)), None);
}

#[test]
fn a_shorter_pause_does_not_cut_a_longer_one() {
    let throttle = Throttle::new(&ChannelLimit::unlimited());
    throttle.pause("chat-1", at(30));
    throttle.pause("chat-1", at(5));
    assert_eq!(throttle.paused_until("chat-1", at(0)), Some(at(30)));
}

#[tokio::test]
async fn a_second_message_to_the_same_chat_waits_for_its_turn() {
    let throttle = Throttle::new(&ChannelLimit {
        per_chat_every_seconds: Some(0.2),
        ..ChannelLimit::unlimited()
    });
    let started = std::time::Instant::now();
    drop(throttle.wait_turn("chat-1").await);
    drop(throttle.wait_turn("chat-2").await);
    assert!(started.elapsed() < Duration::from_millis(100));
    drop(throttle.wait_turn("chat-1").await);
    assert!(started.elapsed() >= Duration::from_millis(150));
}

#[test]
fn a_chat_whose_last_message_is_on_its_way_is_not_ready_and_says_for_how_long() {
    let throttle = Throttle::new(&RateLimits::default().telegram);
    let first = throttle.take_chat("42").unwrap();
    let on_its_way = throttle.take_chat("42").err().unwrap();
    assert_eq!(on_its_way.wait, Duration::from_secs(1));
    assert_eq!(on_its_way.ready, None, "not known before the answer");
    assert!(
        throttle.take_chat("43").is_ok(),
        "another chat is not held up"
    );
    let answered = Instant::now();
    drop(first);
    let not_yet = throttle.take_chat("42").err().unwrap();
    assert!(not_yet.wait > Duration::from_millis(900) && not_yet.wait <= Duration::from_secs(1));
    let ready = not_yet.ready.unwrap();
    assert!(ready >= answered + Duration::from_secs(1));
    assert!(ready <= Instant::now() + Duration::from_secs(1));
}

#[tokio::test]
async fn when_a_chat_is_ready_is_known_once_its_last_messages_answer_is_back() {
    let throttle = Throttle::new(&RateLimits::default().whatsapp);
    let gap = Duration::from_secs(6);
    let first = throttle.take_chat("+1").unwrap();
    let answer = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let answered = Instant::now();
        drop(first);
        answered
    };
    let patience = Duration::from_secs(5);
    let (answered, second) = tokio::join!(answer, throttle.when_ready("+1", patience));
    let ready = second.ready.unwrap();
    assert!(ready >= answered + gap && ready < answered + gap + Duration::from_millis(50));
    assert!(throttle.take_chat("+1").is_err(), "only said, not taken");

    let held = throttle.take_chat("+2").unwrap();
    let gave_up = throttle.when_ready("+2", Duration::from_millis(50)).await;
    assert_eq!(gave_up.ready, None, "no longer than its patience");
    drop(held);
}

#[test]
fn messages_deferred_on_the_same_ready_instant_get_one_time_after_now() {
    let throttle = Throttle::new(&RateLimits::default().whatsapp);
    drop(throttle.take_chat("+1").unwrap());
    let ready = throttle.take_chat("+1").err().unwrap().ready.unwrap();
    let first = throttle.defer_until("+1", ready, (at(0), Instant::now()));
    assert!(first > at(5) && first <= at(6) + TimeDelta::milliseconds(10));
    std::thread::sleep(Duration::from_millis(3));
    let later = at(0) + TimeDelta::milliseconds(3);
    assert_eq!(
        throttle.defer_until("+1", ready, (later, Instant::now())),
        first
    );
    assert!(throttle.defer_until("+1", ready, (at(7), Instant::now())) > at(7));
}

#[test]
fn a_group_takes_twenty_messages_a_minute_and_a_private_chat_is_not_counted_so() {
    let throttle = Throttle::new(&ChannelLimit {
        per_group: Some(GroupLimit::per_minute(20)),
        ..ChannelLimit::unlimited()
    });
    for _ in 0..20 {
        drop(throttle.take_chat("-100500").unwrap());
        drop(throttle.take_chat("4242").unwrap());
    }
    let wait = throttle.take_chat("-100500").err().unwrap().wait;
    assert!(wait > Duration::from_secs(59), "{wait:?}");
    assert!(throttle.take_chat("4242").is_ok());
}

#[tokio::test]
async fn the_overall_pace_lets_a_full_window_go_and_then_waits_for_its_oldest_answer() {
    let throttle = Throttle::new(&ChannelLimit {
        overall_per_second: Some(3),
        ..ChannelLimit::unlimited()
    });
    let started = std::time::Instant::now();
    for chat in ["a", "b", "c"] {
        drop(throttle.wait_turn(chat).await);
    }
    assert!(started.elapsed() < Duration::from_millis(100));
    drop(throttle.wait_turn("d").await);
    assert!(started.elapsed() >= Duration::from_millis(950));
}
