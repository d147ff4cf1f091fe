// The example operations GraphiQL opens with, in the order of the README's walkthrough ("Using GraphiQL"). Every
// operation takes the org in $orgId: the Variables tab opens with it empty, and the page fills it with the org of
// your token's first membership (the "Ivy stream" panel says which); put an id from Me there to choose another.
// An example that changes the demo org says so in its name (..._changesDemoOrg); `npm run demo:reset` undoes them.
export const GRAPHIQL_VARIABLES = JSON.stringify({ orgId: '' }, null, 2);

export const GRAPHIQL_EXAMPLES = /* GraphQL */ `
  # Welcome to the Ivy platform API. The README walks through these.
  # 1. A token: npm run --silent token -- admin@acme.test
  # 2. Headers tab: { "Authorization": "Bearer <token>" }
  # 3. Play button > Me. Copy your org's id into the
  #    Variables tab: { "orgId": "<id>" }. (Left empty, the
  #    page uses your first org; the Ivy stream panel says so.)
  # 4. Names ending in _changesDemoOrg change the demo org:
  #    npm run demo:reset puts it back.
  # 5. Ask streams an Ivy answer (under npm run demo): the
  #    Ivy stream panel shows every event and the whole answer.

  query Me {
    viewer {
      user {
        id
        email
        name
      }
      memberships {
        role
        org {
          id
          slug
          name
          plan
        }
      }
    }
  }

  query Settings($orgId: ID!) {
    orgAiSettings(orgId: $orgId) {
      provider
      effectiveProvider
      byokAvailable
      byokActive
      viewerCanManage
      model {
        id
        label
        provider
        description
        recommended
      }
      availableModels {
        id
        label
        provider
        recommended
      }
      viewerKeys {
        provider
        hint
        status
        lastTestedAt
        lastUsedAt
      }
      fallbackToCredits
      graceWindow {
        endsAt
        active
        daysRemaining
      }
    }
    creditBalance(orgId: $orgId) {
      balance
    }
  }

  # Ivy answers. Run it under "npm run demo" (loopback stand-ins of the vendors; under "npm start" it calls the real
  # vendors). Credits mode as admin@acme.test: the balance drops by what the answer used. The Ivy stream panel shows
  # every event, the whole answer, and the started/finished details. [[slow:150]] paces the stand-in's deltas.
  subscription Ask($orgId: ID!) {
    ivyCompletion(
      input: { orgId: $orgId, messages: [{ role: USER, content: "Who is waiting on feedback? [[slow:150]]" }] }
    ) {
      __typename
      ... on IvyCompletionStarted {
        index
        provider
        model
        billing
        fallbackReason
      }
      ... on IvyTextDelta {
        index
        text
      }
      ... on IvyCompletionFinished {
        index
        finishReason
        inputTokens
        outputTokens
        creditsCharged
        creditBalance
      }
      ... on IvyCompletionFailed {
        index
        code
        message
        creditsCharged
        creditBalance
      }
    }
  }

  query Impact($orgId: ID!) {
    providerChangeImpact(orgId: $orgId, provider: ANTHROPIC) {
      allowed
      creditsStopBeingDeducted
      usageTrackingAvailableAfter
      membersTotal
      membersWithKey
      membersWithValidKey
      fallbackToCredits
      membersWithInvalidKey
      membersWithUntestedKey
      membersWithoutKey
      keysNotTestedWithinInterval
    }
  }

  # Org Admins: do members' keys still work today? Counts only, never who.
  query KeyReadiness($orgId: ID!) {
    orgAiSettings(orgId: $orgId) {
      keyReadiness {
        provider
        membersTotal
        valid
        invalid
        untested
        notSaved
        notTestedWithinInterval
        intervalSeconds
      }
    }
  }

  # Org Admins: let members without a usable key fall back to Intervy Credits (off by default). Changes the org.
  mutation AllowFallback_changesDemoOrg($orgId: ID!) {
    setFallbackToCredits(input: { orgId: $orgId, enabled: true }) {
      fallbackToCredits
    }
  }

  # Org Admins: 500 credits a month for every member, unless a member has a cap of their own. Changes the org.
  mutation DefaultCap_changesDemoOrg($orgId: ID!) {
    setDefaultMemberCap(input: { orgId: $orgId, monthlyCredits: 500 }) {
      member {
        email
      }
      monthlyCap
      spentThisMonth
    }
  }

  # Org Admins: one member's own cap. Needs $userId too (a user id from Me, in the Variables tab). Changes the org.
  mutation MemberCap_changesDemoOrg($orgId: ID!, $userId: ID!) {
    setMemberCap(input: { orgId: $orgId, userId: $userId, monthlyCredits: 2000 }) {
      monthlyCap
      capSource
      remaining
      resetsAt
    }
  }

  # Before sending a long request: what it would hold, against the balance and your remaining cap.
  query Estimate($orgId: ID!) {
    ivyCompletionEstimate(
      input: { orgId: $orgId, maxTokens: 4000, messages: [{ role: USER, content: "Draft interview feedback" }] }
    ) {
      billing
      holdCredits
      creditBalance
      remainingCap
      capResetsAt
      refusal
    }
    viewerSpend(orgId: $orgId) {
      spentThisMonth
      monthlyCap
      remaining
    }
  }

  # Org Admins and Staffing: the Usage page, with cache savings, fallbacks and each member's spend against their cap.
  query Usage($orgId: ID!) {
    usage(orgId: $orgId) {
      trackingAvailable
      totalCreditsCharged
      totalCacheSavingCredits
      memberSpend {
        member {
          email
        }
        spentThisMonth
        monthlyCap
        remaining
      }
      entries(first: 10) {
        edges {
          node {
            requestId
            inputTokens
            cachedInputTokens
            cacheSavingCredits
            creditsCharged
            fallbackReason
          }
        }
      }
    }
  }

  # Org Admins: the org's AI moves to Anthropic (BYOK): Ask then bills each member's own key. Changes the org.
  # As a member who is not an admin (npm run --silent token -- interviewer@acme.test) it is refused: FORBIDDEN.
  mutation SwitchToAnthropic_changesDemoOrg($orgId: ID!) {
    updateProvider(input: { orgId: $orgId, provider: ANTHROPIC }) {
      provider
      effectiveProvider
      model {
        id
        label
      }
    }
  }

  # Your own Anthropic key, encrypted at rest; only its hint ever comes back. Changes your keys in the demo org.
  # Under npm run demo any key without "invalid" in it is accepted by the stand-in; paste a real one under npm start.
  mutation SaveMyKey_changesDemoOrg($orgId: ID!) {
    setPersonalKey(input: { orgId: $orgId, provider: ANTHROPIC, apiKey: "sk-ant-paste-your-key-here" }) {
      provider
      hint
      status
    }
  }

  # Tests your saved key against the vendor. Key tests reach a vendor only in "npm run demo" mode (its loopback
  # stand-ins); under "npm start" the test calls the real Anthropic API, which from a machine without internet
  # access fails with "host not found".
  mutation TestMyKey($orgId: ID!) {
    testPersonalKey(input: { orgId: $orgId, provider: ANTHROPIC }) {
      ok
      status
      message
    }
  }

  # Your own keys only: pushed when the scheduled re-test (or a Test, or a refused answer) changes a status.
  subscription WatchMyKeys($orgId: ID!) {
    viewerKeyStatusChanged(orgId: $orgId) {
      provider
      status
      previousStatus
      testedAt
    }
  }

  subscription WatchSettings($orgId: ID!) {
    orgAiSettingsChanged(orgId: $orgId) {
      provider
      effectiveProvider
      model {
        id
      }
      viewerKeys {
        provider
        status
      }
    }
  }
`;
