//! Shared pieces of the end-to-end tests that need more than fixtures.

#![allow(dead_code)]

pub mod bot;
pub mod cli;
pub mod erasure;
pub mod fake_telegram;
pub mod fake_whatsapp;
pub mod platform_limits;
pub mod tcp_proxy;
pub mod webhook_receiver;
pub mod whatsapp_app;
pub mod whatsapp_webhook;
