/**
 * Inputs for the speed measurements: a "typical chat" corpus of ~100-byte messages and
 * adversarial 1 MB strings built to trigger regex backtracking or quadratic scans.
 */
import { DECOY_CLASSES, DECOY_GENS, PII_GENS, Rng } from "./dataset.ts";
import type { Part } from "./labels.ts";
import { PII_TYPES } from "../../shared/pii/index.ts";

const PLAIN = [
  "Hi there, is the store open tomorrow?",
  "Thanks for the quick reply, that solved my problem!",
  "Can I change the colour of my jacket to navy blue please?",
  "I love the new design, great job team.",
  "When will the sale start? I want to buy a few things for my mom.",
  "ok",
  "The app keeps logging me out whenever I switch tabs, very annoying.",
  "Could you send me the return label again? I can't find the email.",
  "My parcel arrived damaged, the box was completely crushed.",
  "No worries, take your time.",
  "Is there a discount for students?",
  "I'd like to cancel my subscription, please.",
  "The size guide says medium but it fits like a small.",
  "Do you ship to Canada and how long does it take?",
  "Great, that works for me. Have a nice day!",
  "Why was I charged twice this month?",
  "Can someone from billing call me back?",
  "I tried resetting my password but the link has expired.",
  "Perfect, thank you so much for your help!",
  "Hello, I have a question about my last order.",
  "The tracking page says delivered but nothing is here.",
  "Hallo, können Sie mir bitte helfen?",
  "Merci beaucoup pour votre aide !",
  "Is the blue one still in stock?",
];

function render(parts: Part[]): string {
  return parts.map((p) => (typeof p === "string" ? p : p.v)).join("");
}

/** Share of sentences that are plain chat, carry business numbers (order numbers, prices, dates ...) or carry PII. */
export interface CorpusMix {
  plain: number;
  numbers: number;
  pii: number;
}
/** Typical support chat: most sentences have no number at all. */
export const TYPICAL_MIX: CorpusMix = { plain: 0.85, numbers: 0.1, pii: 0.05 };
/** A deliberately number-heavy variant (every other message has digits). */
export const DENSE_MIX: CorpusMix = { plain: 0.55, numbers: 0.3, pii: 0.15 };

/**
 * Chat messages of about 100 characters, each made of sentences drawn from plain chat,
 * sentences with business numbers (the decoy generators) and sentences with PII (the PII
 * generators) according to `mix`.
 */
export function typicalCorpus(count: number, seed = 7, mix: CorpusMix = TYPICAL_MIX): string[] {
  const r = new Rng(seed);
  const out: string[] = [];
  for (let k = 0; k < count; k++) {
    let msg = "";
    while (msg.length < 80) {
      const x = r.next();
      let s: string;
      if (x < mix.plain) s = r.pick(PLAIN);
      else if (x < mix.plain + mix.numbers) s = render(r.pick(DECOY_GENS[r.pick(DECOY_CLASSES)])(r)) + ".";
      else s = render(r.pick(PII_GENS[r.pick(PII_TYPES)])(r));
      msg += (msg ? " " : "") + s;
    }
    out.push(msg);
  }
  return out;
}

/** Adversarial inputs of about `size` characters each. */
export function adversarialInputs(size = 1 << 20): Array<[string, string]> {
  const rep = (unit: string, tail = "") => unit.repeat(Math.ceil((size - tail.length) / unit.length)).slice(0, size - tail.length) + tail;
  return [
    ["digits", rep("1234567890")],
    ["'a'*n + '@'", rep("a", "@")],
    ["'a@' repeated", rep("a@")],
    ["'a.' repeated + '@x'", rep("a.", "@x")],
    ["'1-' repeated", rep("1-")],
    ["'1 ' repeated", rep("1 ")],
    ["'+1 (' repeated", rep("+1 (")],
    ["dots", rep(".")],
    ["colons", rep(":")],
    ["'a:' repeated", rep("a:")],
    ["'1:' repeated", rep("1:")],
    ["'ffff:' repeated", rep("ffff:")],
    ["'1.' repeated", rep("1.")],
    ["street-like words", rep("12 Main Main Main Main Main Main ")],
    ["'Hauptstraße ' + digits", rep("Hauptstraße Hauptstraße 1 ")],
    ["'passport ' + digits", rep("passport no. is 1 ")],
    ["'DE89 ' repeated", rep("DE89 ")],
    ["'x@y.' repeated", rep("x@y.")],
    ["mixed chat", rep("Order #12345678, call 415-555-2671, mail a@b.co, 10:30, v1.2.3! ")],
  ];
}
