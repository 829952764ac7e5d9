import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";

import { Reach } from "./reach.js";

test("reach: never reachable before a reply, reachable for 8 polls after one", () => {
  const reach = new Reach();
  assert.equal(reach.isReachable(), false);
  assert.equal(reach.unansweredPolls(), 8);
  reach.receivedPacket();
  assert.equal(reach.isReachable(), true);
  assert.equal(reach.bits, 1);
  for (let i = 1; i <= 7; i++) {
    reach.poll();
    assert.equal(reach.isReachable(), true);
    assert.equal(reach.unansweredPolls(), i);
  }
  reach.poll();
  assert.equal(reach.isReachable(), false);
  reach.receivedPacket();
  assert.equal(reach.isReachable(), true);
  assert.equal(reach.unansweredPolls(), 0);
});

test("reach: the register is a shift register of the last 8 polls", () => {
  fc.assert(
    fc.property(fc.array(fc.boolean(), { maxLength: 40 }), (answers) => {
      const reach = new Reach();
      let model = 0;
      for (const answered of answers) {
        reach.poll();
        model = (model << 1) & 0xff;
        if (answered) {
          reach.receivedPacket();
          model |= 1;
        }
      }
      assert.equal(reach.bits, model);
      assert.equal(reach.isReachable(), answers.slice(-8).includes(true));
    }),
  );
});
