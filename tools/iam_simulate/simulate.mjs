// Evaluates IAM requests against policies with @cloud-copilot/iam-simulate (pinned in package-lock.json).
//
// stdin:  {"requests": [{"name": "...", "principal": "arn:aws:iam::<account>:role/<name>",
//                         "action": "ssm:GetParameter", "resource": "arn:...", "resourceAccount": "<account>",
//                         "context": {"kms:ViaService": "..."},
//                         "identityPolicies": [{"name": "...", "policy": {...}}],
//                         "resourcePolicy": {...} | null}]}
// stdout: {"results": [{"name": "...", "decision": "Allowed" | "ExplicitlyDenied" | "ImplicitlyDenied",
//                       "errors": null | {...}}]}
// One process evaluates a whole batch (Node starts once). A request the simulator refuses as invalid (unknown
// action, resource type or context key) comes back with decision "Error" and the simulator's errors, so a typo
// can never read as a denial.
import { runSimulation } from '@cloud-copilot/iam-simulate'

async function readStdin() {
  const chunks = []
  for await (const chunk of process.stdin) chunks.push(chunk)
  return JSON.parse(Buffer.concat(chunks).toString('utf8'))
}

async function evaluate(request) {
  const simulation = {
    identityPolicies: request.identityPolicies,
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    resourcePolicy: request.resourcePolicy ?? undefined,
    request: {
      principal: request.principal,
      action: request.action,
      resource: { resource: request.resource, accountId: request.resourceAccount },
      contextVariables: request.context ?? {},
    },
  }
  const response = await runSimulation(simulation, {})
  if (response.resultType === 'error') {
    return { name: request.name, decision: 'Error', errors: response.errors }
  }
  return { name: request.name, decision: response.overallResult, errors: null }
}

const input = await readStdin()
const results = []
for (const request of input.requests) results.push(await evaluate(request))
process.stdout.write(JSON.stringify({ results }, null, 2) + '\n')
