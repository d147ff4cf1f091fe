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
      }
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
