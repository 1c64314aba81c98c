// TOTP end to end with the official twilio Node SDK against verify-service (issue 11, item 8),
// run by tests/e2e/mfa/test_node_sdk.py:
//   VERIFY_URL=http://127.0.0.1:PORT ACCOUNT_SID=AC… AUTH_TOKEN=… IDENTITY=… node mfa_totp.js
// Entity create, TOTP factor create, factor verified with a code from Debian's oathtool, a
// challenge approved with a later code, factors listed, factor and entity deleted. Prints one
// JSON line of what the server answered; the Python test holds the expectations.
"use strict";

const { execFileSync } = require("node:child_process");
const twilio = require("twilio");

const { VERIFY_URL, ACCOUNT_SID, AUTH_TOKEN, IDENTITY } = process.env;
const TIME_STEP = 60;

// Debian's oathtool, independent of the server's pyotp: the code of Unix time `at`.
function oathtool(secret, at) {
  return execFileSync(
    "oathtool",
    ["--totp=sha1", `--time-step-size=${TIME_STEP}s`, "--digits=6", `--now=@${at}`, "--base32", secret],
    { encoding: "utf8" },
  ).trim();
}

async function main() {
  const client = twilio(ACCOUNT_SID, AUTH_TOKEN, { accountSid: ACCOUNT_SID });
  // The Verify domain's base URL, as the Python SDK's `client.verify.base_url`.
  client.verify.baseUrl = VERIFY_URL;
  const verify = client.verify.v2;

  const service = await verify.services.create({ friendlyName: "Acme" });
  const entity = await verify.services(service.sid).entities.create({ identity: IDENTITY });
  const entityApi = verify.services(service.sid).entities(IDENTITY);
  // 60 s steps and a skew of 2: the code of the step before now verifies the factor and the
  // code of the step after approves the challenge, whatever second this runs at.
  const created = await entityApi.newFactors.create({
    friendlyName: "Ann's phone",
    factorType: "totp",
    "config.timeStep": TIME_STEP,
    "config.skew": 2,
  });
  const now = Math.floor(Date.now() / 1000);
  const verified = await entityApi
    .factors(created.sid)
    .update({ authPayload: oathtool(created.binding.secret, now - TIME_STEP) });
  const challenge = await entityApi.challenges.create({
    factorSid: created.sid,
    authPayload: oathtool(created.binding.secret, now + TIME_STEP),
  });
  const listed = await entityApi.factors.list();
  const removed = await entityApi.factors(created.sid).remove();
  const afterRemove = await entityApi.factors.list();
  const entityRemoved = await entityApi.remove();

  console.log(
    JSON.stringify({
      entity: { sid: entity.sid, identity: entity.identity },
      factor: {
        sid: created.sid,
        status: created.status,
        factorType: created.factorType,
        config: created.config,
        uri: created.binding.uri,
      },
      verifiedStatus: verified.status,
      challenge: { sid: challenge.sid, status: challenge.status, factorSid: challenge.factorSid },
      listed: listed.map((f) => ({ sid: f.sid, status: f.status })),
      removed,
      afterRemove: afterRemove.length,
      entityRemoved,
    }),
  );
}

main().catch((error) => {
  console.error(`${error.status ?? ""} ${error.code ?? ""} ${error.message}`);
  process.exit(1);
});
