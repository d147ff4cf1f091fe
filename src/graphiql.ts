// The example operations GraphiQL opens with. Replace ORG_ID with an id from `viewer`.
export const GRAPHIQL_EXAMPLES = /* GraphQL */ `
  # Welcome to the Ivy platform API.
  # 1. Get a token:   npm run --silent token -- admin@acme.test
  # 2. Put it in the Headers tab:  { "Authorization": "Bearer <token>" }
  # 3. Run "Me" to find your org ids, then try the others.

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

  # Org Admins: let members without a usable key fall back to Intervy Credits (off by default).
  mutation AllowFallback($orgId: ID!) {
    setFallbackToCredits(input: { orgId: $orgId, enabled: true }) {
      fallbackToCredits
    }
  }

  # Org Admins: 500 credits a month for every member, unless a member has a cap of their own.
  mutation DefaultCap($orgId: ID!) {
    setDefaultMemberCap(input: { orgId: $orgId, monthlyCredits: 500 }) {
      member {
        email
      }
      monthlyCap
      spentThisMonth
    }
  }

  mutation MemberCap($orgId: ID!, $userId: ID!) {
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

  mutation SwitchToAnthropic($orgId: ID!) {
    updateProvider(input: { orgId: $orgId, provider: ANTHROPIC }) {
      provider
      effectiveProvider
      model {
        id
        label
      }
    }
  }

  mutation SaveMyKey($orgId: ID!) {
    setPersonalKey(input: { orgId: $orgId, provider: ANTHROPIC, apiKey: "sk-ant-paste-your-key-here" }) {
      provider
      hint
      status
    }
  }

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
